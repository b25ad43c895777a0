/* gov-report-rag web page: chat with streamed, checked answers; citations open the report at the quote;
 * an optional scope limits the reports a question is answered from; the indicators view tables each
 * report's headline targets and results (each value opens its sentence) and charts target against result.
 *
 * Plain JavaScript, no dependencies, no build step. Every piece of report, answer or document text is
 * put on the page with textContent / text nodes, never parsed as HTML. Data calls carry the API key
 * (kept in sessionStorage) when the server asks for one.
 */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const KEY_STORE = "gov-report-rag.key";
  const MODEL_STORE = "gov-report-rag.model";
  const LEVELS = { national: "全国", province: "省级", prefecture: "地级市", county: "县", district: "区" };
  const FORMATS = { text: "文本", csv: "CSV", json: "JSON", pdf: "PDF", docx: "Word", html: "网页" };

  const state = {
    history: [],          // earlier questions of this conversation, as typed
    busy: false,
    controller: null,     // AbortController of the answer being streamed
    docs: [],
    scope: { docs: [], places: [], years: [], levels: [] }, // what the next questions may be answered from
    texts: new Map(),     // doc id -> Promise of GET /v1/documents/{id}/text
    view: null,           // {list, index, doc, twinOf, opener}
    ind: { loaded: false, all: [], seq: 0 }, // the indicators view: every row (for the filters), the latest load
  };
  // measurements for the browser test and the curious: one entry per question
  window.ragTimings = [];

  /* --- small DOM helper: attributes from code, text from data (as text nodes) --- */
  function el(tag, props, ...kids) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") n.className = v;
      else if (k === "text") n.textContent = v;
      else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of kids.flat()) {
      if (c !== null && c !== undefined && c !== false) n.append(c);
    }
    return n;
  }

  function announce(text) {
    const s = $("sr-status");
    s.textContent = "";
    setTimeout(() => { s.textContent = text; }, 30);
  }

  function banner(text) {
    const b = $("banner");
    b.textContent = text || "";
    b.hidden = !text;
  }

  /* --- API calls --------------------------------------------------------------------------------- */
  const narrow = window.matchMedia("(max-width: 860px)");
  /** On a phone the report view covers the page: the view under it (chat or indicators) takes no focus. */
  function coverMain(covered) {
    $("chat").inert = covered;
    $("indicators").inert = covered;
  }
  narrow.addEventListener("change", () => coverMain(narrow.matches && !$("report").hidden));
  const url = (path) => new URL(path, document.baseURI).toString();

  function authHeaders(extra) {
    const h = Object.assign({}, extra || {});
    const key = sessionStorage.getItem(KEY_STORE);
    if (key) h.Authorization = "Bearer " + key;
    return h;
  }

  class ApiFailure extends Error {
    constructor(status, message, retryAfter) {
      super(message);
      this.status = status;
      this.retryAfter = retryAfter;
    }
  }

  async function failure(res) {
    let message = `HTTP ${res.status}`;
    try {
      const body = await res.json();
      if (body && body.error && body.error.message) message = body.error.message;
    } catch (_) { /* not JSON */ }
    return new ApiFailure(res.status, message, res.headers.get("Retry-After"));
  }

  /** fetch with the key; a 401 asks for the key and tries again. */
  async function api(path, options) {
    for (;;) {
      const opts = Object.assign({}, options || {});
      opts.headers = authHeaders(opts.headers);
      const res = await fetch(url(path), opts);
      if (res.status !== 401) return res;
      const hadKey = !!sessionStorage.getItem(KEY_STORE);
      await askForKey(hadKey ? "密钥不正确，请重新输入。" : "");
    }
  }

  async function apiJson(path, options) {
    const res = await api(path, options);
    if (!res.ok) throw await failure(res);
    return res.json();
  }

  /* --- the API key dialog -------------------------------------------------------------------------- */
  let keyWaiters = [];
  function askForKey(message) {
    return new Promise((resolve) => {
      keyWaiters.push(resolve);
      const d = $("key-dialog");
      $("key-error").textContent = message || "";
      if (!d.open) {
        $("key").value = "";
        d.showModal();
        $("key").focus();
      }
    });
  }
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = $("key").value.trim();
    if (!key) {
      $("key-error").textContent = "请输入密钥。";
      return;
    }
    sessionStorage.setItem(KEY_STORE, key);
    $("key-dialog").close();
    const waiting = keyWaiters;
    keyWaiters = [];
    waiting.forEach((resolve) => resolve());
  });
  $("key-dialog").addEventListener("cancel", (e) => e.preventDefault()); // nothing works without it

  /* --- start-up -------------------------------------------------------------------------------------- */
  async function start() {
    for (;;) {
      try {
        const models = await apiJson("v1/models");
        banner("");
        fillModels(models.data);
        break;
      } catch (err) {
        if (err.status === 503) {
          banner("服务正在加载索引和模型，请稍候…");
          await new Promise((r) => setTimeout(r, 1000));
          continue;
        }
        banner("无法连接服务：" + err.message);
        return;
      }
    }
    await loadDocuments();
  }

  function fillModels(models) {
    const sel = $("model");
    sel.textContent = "";
    const saved = sessionStorage.getItem(MODEL_STORE);
    for (const m of models) {
      const label = (m.name === "small" ? "小模型（快）" : "默认模型") + (m.available ? "" : "（未安装）");
      const opt = el("option", { value: m.name, disabled: !m.available }, label);
      if ((saved && saved === m.name) || (!saved && m.default)) opt.selected = true;
      sel.append(opt);
    }
  }
  $("model").addEventListener("change", () => sessionStorage.setItem(MODEL_STORE, $("model").value));

  /* --- chat ------------------------------------------------------------------------------------------ */
  const form = $("ask");
  const input = $("question");

  input.addEventListener("keydown", (e) => {
    // Enter sends; Shift+Enter is a new line; Enter that confirms an IME candidate is not a send
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      send(performance.now());
    } else if (e.key === "Escape" && state.controller) {
      e.preventDefault();
      state.controller.abort();
    }
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    send(performance.now());
  });
  $("stop").addEventListener("click", () => {
    if (state.controller) state.controller.abort();
  });
  $("new-chat").addEventListener("click", () => {
    if (state.controller) state.controller.abort();
    showIndicators(false);
    state.history = [];
    $("log").textContent = "";
    $("intro").hidden = false;
    closeReport();
    input.focus();
  });

  function setBusy(busy) {
    const focused = document.activeElement;
    state.busy = busy;
    $("send").hidden = busy;
    $("stop").hidden = !busy;
    // the question box keeps the focus (the next question can be typed meanwhile; Escape stops)
    if (focused === $("send") || focused === $("stop") || focused === document.body) input.focus();
  }

  function scrollLog() {
    const w = $("log-wrap");
    if (w.scrollHeight - w.scrollTop - w.clientHeight < 160) w.scrollTop = w.scrollHeight;
  }

  function send(t0) {
    const question = input.value.trim();
    if (!question || state.busy) return;
    input.value = "";
    ask(question, t0);
  }

  function newTurn(question, scope) {
    $("intro").hidden = true;
    const t = {
      rewritten: el("p", { class: "rewritten", hidden: true }),
      evidence: el("section", { class: "evidence", "data-testid": "evidence", hidden: true }),
      answer: el("div", { class: "answer streaming", "data-testid": "answer", "aria-busy": "true" }),
      notice: el("p", { class: "notice", hidden: true }),
      chips: el("ol", { class: "chips", "aria-label": "引用", hidden: true }),
      timing: el("p", { class: "timing" }),
      citations: [],
    };
    t.status = el("p", { class: "pending", text: "正在检索报告…" });
    t.root = el("li", { class: "turn" },
      el("div", { class: "q" }, el("h2", { class: "sr-only" }, "问题"), el("p", { class: "q-text" }, question),
         t.rewritten, scope ? el("p", { class: "turn-scope" }, "范围：" + scope) : null),
      el("div", { class: "a" }, el("h2", { class: "sr-only" }, "回答"), t.status, t.evidence, t.answer, t.notice,
         t.chips, t.timing));
    $("log").append(t.root);
    $("log-wrap").scrollTop = $("log-wrap").scrollHeight;
    return t;
  }

  function showRewritten(t, question, standalone) {
    if (standalone && standalone !== question) {
      t.rewritten.textContent = "";
      t.rewritten.append("按「", el("span", { class: "standalone" }, standalone), "」回答");
      t.rewritten.hidden = false;
    }
  }

  function showEvidence(t, c) {
    t.evidence.textContent = "";
    t.evidence.append(
      el("h3", {}, "最相关的原文"),
      el("blockquote", { lang: scriptLang(c) }, c.quote),
      el("button", { type: "button", class: "link", onclick: (e) => openCitation([c], 0, e.currentTarget) },
         `${c.breadcrumb} · ${c.location}`));
    t.evidence.hidden = false;
  }

  /** The answer text with its [n] markers as buttons that open citation n. */
  function renderAnswer(t, text) {
    t.answer.textContent = "";
    const p = el("p", { class: "answer-text" });
    const parts = String(text).split(/\[(\d+)\]/);
    parts.forEach((part, i) => {
      if (i % 2 === 0) {
        if (part) p.append(part);
        return;
      }
      if (i >= 3 && parts[i - 1] === "" && parts[i - 2] === part) return; // 「…[1][1]」 is one marker
      const n = Number(part);
      p.append(el("button", {
        type: "button", class: "ref", "aria-label": `引用 ${n}`,
        onclick: (e) => {
          const at = t.citations.findIndex((c) => c.n === n);
          if (at >= 0) openCitation(t.citations, at, e.currentTarget);
        },
      }, String(n)));
    });
    t.answer.append(p);
  }

  function appendToken(t, tok) {
    let p = t.answer.querySelector(".answer-text");
    if (!p) {
      p = el("p", { class: "answer-text" });
      t.answer.append(p);
    }
    p.append(tok);
  }

  function chipLabel(c) {
    const parts = [c.breadcrumb || c.doc, c.page ? `第${c.page}页` : "", `第${c.paragraph}段`];
    return parts.filter(Boolean).join(" · ");
  }

  function showCitations(t, citations) {
    t.citations = citations || [];
    t.chips.textContent = "";
    t.citations.forEach((c, i) => {
      t.chips.append(el("li", {}, el("button", {
        type: "button", class: "chip", "data-testid": "citation", "data-doc": c.doc, title: c.quote,
        onclick: (e) => openCitation(t.citations, i, e.currentTarget),
      }, el("span", { class: "n" }, String(c.n)), el("span", { class: "label" }, chipLabel(c)))));
    });
    t.chips.hidden = t.citations.length === 0;
  }

  function notice(t, text, kind) {
    t.notice.textContent = text;
    t.notice.className = "notice" + (kind ? " " + kind : "");
    t.notice.hidden = !text;
  }

  const secs = (ms) => (ms / 1000).toFixed(2) + " 秒";

  function afterPaint(fn) {
    requestAnimationFrame(() => setTimeout(fn, 0));
  }

  async function ask(question, t0) {
    const t = newTurn(question, scopeText());
    const timing = { question, evidence_ms: null, first_token_ms: null, answer_ms: null, server: null };
    window.ragTimings.push(timing);
    const controller = new AbortController();
    state.controller = controller;
    setBusy(true);
    const body = { question, history: state.history.slice(-20), stream: true };
    if ($("model").value) body.model = $("model").value;
    const scope = scopeBody();
    if (scope) body.scope = scope;
    let finished = false;
    try {
      const res = await api("v1/ask", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
        signal: controller.signal,
      });
      if (!res.ok) throw await failure(res);
      let retrying = false;
      let tokenSeen = false;
      for await (const [kind, data] of events(res)) {
        if (kind === "question") {
          showRewritten(t, question, data.standalone_question);
        } else if (kind === "evidence") {
          showEvidence(t, data);
          t.status.textContent = "正在生成回答…";
          afterPaint(() => { if (timing.evidence_ms === null) timing.evidence_ms = performance.now() - t0; });
        } else if (kind === "token" || kind === "retry_token") {
          if (!tokenSeen) {
            tokenSeen = true;
            afterPaint(() => { timing.first_token_ms = performance.now() - t0; });
          }
          if (kind === "retry_token" && !retrying) {
            retrying = true;
            t.answer.textContent = "";
          }
          appendToken(t, data);
        } else if (kind === "retry") {
          notice(t, "第一次回答未通过核对，正在重新回答…", "info");
        } else if (kind === "answer") {
          renderAnswer(t, data);
          t.answer.classList.remove("streaming");
        } else if (kind === "citations") {
          showCitations(t, data);
        } else if (kind === "done") {
          finished = true;
          timing.server = data.timings;
          showRewritten(t, question, data.standalone_question);
          if (data.refused) {
            t.root.classList.add("refused");
            t.answer.prepend(el("p", { class: "refusal" }, "报告中没有找到这个问题的答案；下面是报告中相关的内容。"));
          }
          if (t.notice.classList.contains("info")) notice(t, "");
          if (data.extractive && !data.refused) notice(t, "模型的回答无法核对，这里直接引用原文。", "info");
        } else if (kind === "error") {
          throw new ApiFailure(500, (data && data.error && data.error.message) || "回答失败");
        }
        scrollLog();
      }
      if (!finished) throw new ApiFailure(0, "连接中断，回答不完整。");
      afterPaint(() => { timing.answer_ms = performance.now() - t0; showTiming(t, timing); });
      state.history.push(question);
      announce("回答完成：" + t.answer.textContent);
    } catch (err) {
      if (err.name === "AbortError") {
        notice(t, "已停止。", "stopped");
        timing.stopped = true;
      } else if (err.status === 503) {
        notice(t, `服务器正忙：${err.message}`, "error");
      } else {
        notice(t, err.message || String(err), "error");
      }
      if (!t.answer.textContent) t.answer.hidden = true;
    } finally {
      t.status.remove();
      t.answer.classList.remove("streaming");
      t.answer.removeAttribute("aria-busy");
      if (state.controller === controller) state.controller = null;
      setBusy(false);
      scrollLog();
    }
  }

  function showTiming(t, timing) {
    const parts = [];
    if (timing.evidence_ms !== null) parts.push("原文 " + secs(timing.evidence_ms));
    if (timing.first_token_ms !== null) parts.push("首字 " + secs(timing.first_token_ms));
    parts.push("共 " + secs(timing.answer_ms));
    const model = $("model").selectedOptions[0];
    if (model) parts.push(model.textContent);
    t.timing.textContent = parts.join(" · ");
  }

  /** Server-sent events of a fetch response: [event, data] pairs. */
  async function* events(res) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        let kind = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) kind = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) yield [kind, JSON.parse(data.join("\n"))];
      }
    }
  }

  /* --- the report view ------------------------------------------------------------------------------ */
  function scriptLang(c) {
    const d = state.docs.find((x) => x.id === c.doc);
    return d && d.script === "traditional" ? "zh-Hant" : "zh-Hans";
  }

  function docText(id) {
    if (!state.texts.has(id)) {
      const p = apiJson(`v1/documents/${encodeURIComponent(id)}/text`);
      p.catch(() => state.texts.delete(id));
      state.texts.set(id, p);
    }
    return state.texts.get(id);
  }

  function openCitation(list, index, opener) {
    state.view = { list, index, opener: opener || document.activeElement, twin: null };
    showView();
  }

  function openDocument(id, opener) {
    state.view = { list: [], index: -1, doc: id, opener: opener || document.activeElement, twin: null };
    showView();
  }

  function closeReport() {
    const r = $("report");
    if (r.hidden) return;
    r.hidden = true;
    document.body.classList.remove("with-report");
    coverMain(false);
    const opener = state.view && state.view.opener;
    state.view = null;
    if (opener && document.contains(opener)) opener.focus();
  }
  $("report-close").addEventListener("click", closeReport);
  $("cite-prev").addEventListener("click", () => step(-1));
  $("cite-next").addEventListener("click", () => step(1));
  $("twin").addEventListener("click", () => {
    const v = state.view;
    if (!v || !v.twinTarget) return;
    v.twin = v.twin ? null : v.twinTarget;
    showView();
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !e.defaultPrevented && !$("report").hidden && !document.querySelector("dialog[open]")) {
      closeReport();
    }
  });

  function step(delta) {
    const v = state.view;
    if (!v || v.index < 0) return;
    const next = v.index + delta;
    if (next < 0 || next >= v.list.length) return;
    v.index = next;
    v.twin = null;
    showView();
  }

  async function showView() {
    const v = state.view;
    const r = $("report");
    const body = $("report-body");
    const cite = v.index >= 0 ? v.list[v.index] : null;
    const docId = v.twin || (cite ? cite.doc : v.doc);
    r.hidden = false;
    document.body.classList.add("with-report");
    coverMain(narrow.matches); // on a phone the report covers the page: keep the focus inside it
    $("report-title").textContent = "正在打开报告…";
    $("report-meta").textContent = "";
    $("report-crumb").textContent = "";
    $("report-note").hidden = true;
    $("twin").hidden = true;
    body.textContent = "";
    $("cite-prev").hidden = $("cite-next").hidden = $("cite-pos").hidden = !cite || v.list.length < 2;
    if (cite) {
      $("cite-pos").textContent = `引用 ${v.index + 1} / ${v.list.length}`;
      $("cite-prev").disabled = v.index === 0;
      $("cite-next").disabled = v.index === v.list.length - 1;
    }
    let doc;
    try {
      doc = await docText(docId);
    } catch (err) {
      $("report-title").textContent = "无法打开报告";
      body.append(el("p", { class: "error" }, err.message));
      $("report-title").focus();
      return;
    }
    if (state.view !== v) return; // another citation was opened meanwhile
    const lang = doc.script === "traditional" ? "zh-Hant" : "zh-Hans";
    $("report-title").textContent = doc.title || doc.name;
    $("report-meta").textContent = [doc.name, FORMATS[doc.format] || doc.format,
      doc.script === "traditional" ? "繁体" : "简体", doc.year ? `${doc.year}年` : ""].filter(Boolean).join(" · ");
    body.setAttribute("lang", lang);

    // what to highlight: the quote by its offsets, or in the twin the matching paragraphs
    let mark = null;
    let cited = new Set();
    let crumbFrom = null;
    if (cite && !v.twin) {
      mark = [cite.start, cite.end];
      cited = new Set([cite.id]);
      crumbFrom = doc.paragraphs.find((p) => p.id === cite.id);
      const twins = crumbFrom ? crumbFrom.twins : [];
      v.twinTarget = doc.twin_of.length ? doc.twin_of[0] : null;
      v.twinIds = twins;
    } else if (cite && v.twin) {
      const paras = doc.paragraphs.filter((p) => (v.twinIds || []).includes(p.id));
      cited = new Set(paras.map((p) => p.id));
      if (paras.length) mark = [Math.min(...paras.map((p) => p.start)), Math.max(...paras.map((p) => p.end))];
      crumbFrom = paras[0] || null;
      const note = $("report-note");
      note.textContent = paras.length
        ? "另一版本中对应的段落（引用的原句见原版本）。"
        : "另一版本中没有找到对应的段落。";
      note.hidden = false;
    } else {
      v.twinTarget = doc.twin_of.length ? doc.twin_of[0] : null;
    }
    if (v.twinTarget && cite) {
      $("twin").hidden = false;
      $("twin").textContent = v.twin ? "回到引用的版本" : (doc.script === "traditional" ? "查看简体版" : "查看繁体版");
    } else if (v.twinTarget) {
      $("twin").hidden = false;
      $("twin").textContent = doc.script === "traditional" ? "查看简体版" : "查看繁体版";
    }

    const crumb = $("report-crumb");
    const trail = ((crumbFrom && crumbFrom.breadcrumb) || doc.title || "").split(/\s*›\s*/);
    crumb.append(el("ol", {}, trail.map((s) => el("li", {}, s))));
    if (cite && !v.twin) {
      crumb.append(el("span", { class: "loc" }, cite.location || `第${cite.paragraph}段`));
    }

    body.append(renderText(doc, mark, cited));
    const target = body.querySelector("mark") || body.querySelector(".cited");
    if (target) target.scrollIntoView({ block: "center" });
    else body.scrollTop = 0;
    $("report-title").focus({ preventScroll: true });
  }

  /** The whole report as text nodes; paragraphs as spans (headings bold, page furniture dimmed), the
   * cited paragraph tinted and the quote in one <mark>, both by their offsets into the text. */
  function renderText(doc, mark, cited) {
    const text = doc.text;
    const blocks = [];
    const paras = doc.paragraphs.filter((p) => p.end > p.start).sort((a, b) => a.start - b.start || b.end - a.end);
    for (const p of paras) {
      const last = blocks[blocks.length - 1];
      if (last && p.start < last.end) {
        last.end = Math.max(last.end, p.end);
        last.paras.push(p);
      } else {
        blocks.push({ start: p.start, end: p.end, paras: [p] });
      }
    }
    if (mark) { // the mark lies inside one block: merge the blocks it touches
      const [ms, me] = mark;
      const touching = blocks.filter((b) => b.start < me && b.end > ms);
      if (touching.length > 1) {
        const merged = { start: Math.min(ms, touching[0].start), end: Math.max(me, touching[touching.length - 1].end),
          paras: touching.flatMap((b) => b.paras) };
        blocks.splice(blocks.indexOf(touching[0]), touching.length, merged);
      } else if (touching.length === 0) {
        blocks.push({ start: ms, end: me, paras: [] });
        blocks.sort((a, b) => a.start - b.start);
      }
    }
    const frag = document.createDocumentFragment();
    let pos = 0;
    for (const b of blocks) {
      if (b.start < pos) continue;
      if (b.start > pos) frag.append(gap(text.slice(pos, b.start)));
      const kind = b.paras.length ? b.paras[0].kind : "body";
      const cls = ["p", "k-" + kind];
      if (b.paras.some((p) => cited.has(p.id))) cls.push("cited");
      const span = el("span", { class: cls.join(" "), "data-id": b.paras.length ? b.paras[0].id : null });
      if (mark && mark[0] >= b.start && mark[1] <= b.end) {
        span.append(text.slice(b.start, mark[0]), el("mark", {}, text.slice(mark[0], mark[1])),
                    text.slice(mark[1], b.end));
      } else {
        span.append(text.slice(b.start, b.end));
      }
      frag.append(span);
      pos = b.end;
    }
    if (pos < text.length) frag.append(gap(text.slice(pos)));
    return frag;
  }

  /** Text outside every paragraph (markup such as 「## 」, page markers, blank lines): shown, but muted. */
  function gap(s) {
    return /\S/.test(s) ? el("span", { class: "gap" }, s) : s;
  }

  /* --- documents -------------------------------------------------------------------------------------- */
  const docsDialog = $("docs");
  $("docs-open").addEventListener("click", () => {
    docsDialog.showModal();
    loadDocuments();
  });
  $("docs-close").addEventListener("click", () => docsDialog.close());
  docsDialog.addEventListener("close", () => { if ($("report").hidden) $("docs-open").focus(); });

  async function loadDocuments() {
    try {
      state.docs = await apiJson("v1/documents");
    } catch (err) {
      $("upload-status").textContent = "无法读取文档列表：" + err.message;
      return;
    }
    const tbody = $("docs-list");
    tbody.textContent = "";
    for (const d of state.docs) {
      const title = d.title || d.name;
      tbody.append(el("tr", { "data-id": d.id },
        el("td", {}, el("button", { type: "button", class: "link", title: d.name,
                                     onclick: (e) => { docsDialog.close(); openDocument(d.id, $("docs-open")); } },
                        title),
           el("span", { class: "sub" }, [d.name, d.script === "traditional" ? "繁体" : "",
                                           d.twin_of && d.twin_of.length ? "另有" + (d.script === "traditional" ? "简体" : "繁体") + "版" : ""]
             .filter(Boolean).join(" · "))),
        el("td", {}, d.place || "—"),
        el("td", {}, LEVELS[d.level] || d.level || "—"),
        el("td", {}, d.year ? String(d.year) : "—"),
        el("td", { class: "num" }, String(d.chunks)),
        el("td", {}, (d.source === "upload" ? "上传" : "种子") + " · " + (FORMATS[d.format] || d.format)),
        el("td", {}, el("button", { type: "button", class: "danger small", "aria-label": `删除 ${title}`,
                                     onclick: () => removeDocument(d) }, "删除"))));
    }
    showExamples();
    fillScope();
    state.ind.loaded = false; // the library changed: the indicators are read again
    if (!$("indicators").hidden) loadIndicators();
  }

  /* --- the scope: the reports a question may be answered from ---------------------------------------- */
  const SCOPE_FIELDS = ["docs", "places", "years", "levels"];
  const SCOPE_NAMES = { docs: "报告", places: "地方", years: "年份", levels: "级别" };
  const scopeDialog = $("scope");

  const scopeSize = () => SCOPE_FIELDS.reduce((n, f) => n + state.scope[f].length, 0);

  /** The request's `scope`: the fields that limit; null when nothing does (the whole library). */
  function scopeBody() {
    if (!scopeSize()) return null;
    const body = {};
    for (const f of SCOPE_FIELDS) if (state.scope[f].length) body[f] = state.scope[f].slice();
    return body;
  }

  /** A report's name in the scope: its title without the place (the list groups by place), or with it. */
  function docLabel(d, withPlace) {
    const title = d.title || d.name;
    const bare = d.place && title.startsWith(d.place) ? title.slice(d.place.length).replace(/^\s*·\s*/, "") : title;
    return [withPlace ? d.place : "", bare, d.script === "traditional" ? "繁体" : ""].filter(Boolean).join(" · ");
  }

  function scopeLabel(field, value) {
    if (field === "docs") {
      const d = state.docs.find((x) => x.id === value);
      return d ? docLabel(d, true) : value; // a report removed meanwhile: its id (the server will say so)
    }
    if (field === "years") return `${value}年`;
    if (field === "levels") return LEVELS[value] || value;
    return value;
  }

  const scopeText = () => SCOPE_FIELDS.flatMap((f) => state.scope[f].map((v) => scopeLabel(f, v))).join("、");

  function setScope(field, value, on) {
    const list = state.scope[field];
    const at = list.indexOf(value);
    if (on && at < 0) list.push(value);
    if (!on && at >= 0) list.splice(at, 1);
    showScope();
  }

  function clearScope() {
    for (const f of SCOPE_FIELDS) state.scope[f] = [];
    showScope();
  }

  /** The chips under the question box (each removable) and the dialog's boxes, from `state.scope`. */
  function showScope() {
    const chips = $("scope-chips");
    chips.textContent = "";
    for (const f of SCOPE_FIELDS) {
      for (const v of state.scope[f]) {
        const label = `${SCOPE_NAMES[f]}：${scopeLabel(f, v)}`;
        chips.append(el("li", { class: "scope-chip", "data-testid": "scope-chip", "data-field": f, "data-value": v },
          el("span", {}, label),
          el("button", { type: "button", "aria-label": `移除 ${label}`,
                         onclick: () => { setScope(f, v, false); input.focus(); } }, "×")));
      }
    }
    const on = scopeSize() > 0;
    chips.hidden = !on;
    $("scope-clear").hidden = !on;
    $("scope-summary").hidden = on;
    $("scope-open").classList.toggle("active", on);
    for (const box of scopeDialog.querySelectorAll("input[type=checkbox]")) {
      box.checked = state.scope[box.dataset.field].some((v) => String(v) === box.value);
    }
  }

  function scopeOption(field, value, label, title) {
    return el("label", { class: "scope-option", title },
      el("input", { type: "checkbox", value: String(value), "data-field": field,
                    onchange: (e) => setScope(field, value, e.currentTarget.checked) }), label);
  }

  /** The dialog's lists from the documents: the reports grouped by place (levels from the top, newest
   * first), then the places, years and levels the library holds. */
  function fillScope() {
    const order = Object.keys(LEVELS);
    const rank = (d) => (order.includes(d.level) ? order.indexOf(d.level) : order.length);
    const sorted = [...state.docs].sort((a, b) => rank(a) - rank(b) || (a.place || "").localeCompare(b.place || "", "zh")
      || (b.year || 0) - (a.year || 0) || a.name.localeCompare(b.name));
    const groups = new Map();
    for (const d of sorted) {
      const place = d.place || "其他";
      if (!groups.has(place)) groups.set(place, []);
      groups.get(place).push(d);
    }
    const docs = $("scope-docs");
    docs.textContent = "";
    for (const [place, list] of groups) {
      docs.append(el("div", { class: "scope-place" }, el("p", { class: "scope-place-name" }, place),
        el("div", { class: "scope-options" }, list.map((d) => scopeOption("docs", d.id, docLabel(d, false), d.name)))));
    }
    const unique = (values) => [...new Set(values.filter(Boolean))];
    const fill = (id, field, values, label) => {
      $(id).textContent = "";
      $(id).append(...values.map((v) => scopeOption(field, v, label(v))));
    };
    fill("scope-places", "places", unique(sorted.map((d) => d.place)), (v) => v);
    fill("scope-years", "years", unique(sorted.map((d) => d.year)).sort((a, b) => b - a), (v) => `${v}年`);
    fill("scope-levels", "levels", order.filter((lv) => sorted.some((d) => d.level === lv)), (v) => LEVELS[v]);
    showScope();
  }

  $("scope-open").addEventListener("click", () => {
    scopeDialog.showModal();
    const first = scopeDialog.querySelector("input[type=checkbox]");
    if (first) first.focus();
  });
  $("scope-close").addEventListener("click", () => scopeDialog.close());
  $("scope-done").addEventListener("click", () => scopeDialog.close());
  $("scope-reset").addEventListener("click", clearScope);
  $("scope-clear").addEventListener("click", () => { clearScope(); input.focus(); });
  scopeDialog.addEventListener("close", () => $("scope-open").focus());

  function showExamples() {
    const ul = $("examples");
    ul.textContent = "";
    const places = [...new Set(state.docs.map((d) => d.place).filter(Boolean))].slice(0, 3);
    const asks = ["今年地区生产总值预期增长多少？", "今年城镇新增就业目标是多少？", "去年粮食产量是多少？"];
    places.forEach((place, i) => {
      const q = place.replace(/市$/, "") + asks[i % asks.length];
      ul.append(el("li", {}, el("button", { type: "button", class: "example",
        onclick: () => { input.value = q; input.focus(); } }, q)));
    });
  }

  function confirmDialog(text) {
    return new Promise((resolve) => {
      const d = $("confirm");
      $("confirm-text").textContent = text;
      const done = (ok) => {
        d.removeEventListener("close", onClose);
        $("confirm-form").onsubmit = null;
        $("confirm-cancel").onclick = null;
        if (d.open) d.close();
        resolve(ok);
      };
      const onClose = () => done(false);
      $("confirm-form").onsubmit = (e) => { e.preventDefault(); done(true); };
      $("confirm-cancel").onclick = () => done(false);
      d.addEventListener("close", onClose);
      d.showModal();
      $("confirm-cancel").focus();
    });
  }

  async function removeDocument(d) {
    const title = d.title || d.name;
    const what = d.source === "upload"
      ? `删除「${title}」？上传的文件会被删除，索引随之更新。`
      : `不再提供「${title}」？这是种子报告：文件会保留，只是不再用于回答。`;
    if (!(await confirmDialog(what))) return;
    const status = $("upload-status");
    status.textContent = `正在删除「${title}」并更新索引…`;
    try {
      await apiJson(`v1/documents/${encodeURIComponent(d.id)}`, { method: "DELETE" });
      status.textContent = `已删除「${title}」。`;
      state.texts.clear();
    } catch (err) {
      status.textContent = "删除失败：" + err.message;
    }
    await loadDocuments();
  }

  /** POST the upload with XMLHttpRequest, which reports upload progress; resolves to [status, body]. */
  function post(body, contentType, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url("v1/documents"));
      const headers = authHeaders(contentType ? { "Content-Type": contentType } : {});
      for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
      xhr.upload.onload = () => onProgress(1);
      xhr.onload = () => {
        let parsed = null;
        try { parsed = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
        resolve([xhr.status, parsed]);
      };
      xhr.onerror = () => reject(new Error("网络错误"));
      xhr.send(body);
    });
  }

  $("upload").addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = $("upload-file").files[0];
    const pasted = $("paste-text").value;
    const status = $("upload-status");
    const bar = $("upload-progress");
    let make;
    if (file) {
      make = () => { const f = new FormData(); f.append("file", file, file.name); return [f, null]; };
    } else if (pasted.trim()) {
      const name = $("paste-name").value.trim() || "粘贴的报告.txt";
      make = () => [JSON.stringify({ name, text: pasted }), "application/json"];
    } else {
      status.textContent = "请选择文件，或粘贴报告全文。";
      return;
    }
    const button = $("upload-send");
    button.disabled = true;
    bar.hidden = false;
    bar.value = 0;
    status.textContent = "正在上传…";
    const progress = (f) => {
      if (f < 1) {
        bar.value = Math.round(f * 100);
        status.textContent = `正在上传… ${Math.round(f * 100)}%`;
      } else {
        bar.removeAttribute("value"); // indeterminate while the server reads, cuts and indexes
        status.textContent = "已上传，正在切分段落、建立索引…";
      }
    };
    try {
      for (;;) {
        const [body, type] = make();
        const [code, data] = await post(body, type, progress);
        if (code === 401) {
          await askForKey(sessionStorage.getItem(KEY_STORE) ? "密钥不正确，请重新输入。" : "");
          continue;
        }
        if (code !== 201) {
          const msg = (data && data.error && data.error.message) || `HTTP ${code}`;
          status.textContent = "上传失败：" + msg;
          break;
        }
        const d = data.document || {};
        status.textContent = `已加入「${d.title || d.id}」：${d.chunks} 段，用时 ${data.seconds} 秒。现在可以提问了。`;
        $("upload").reset();
        state.texts.clear();
        await loadDocuments();
        break;
      }
    } catch (err) {
      status.textContent = "上传失败：" + err.message;
    } finally {
      bar.hidden = true;
      button.disabled = false;
    }
  });

  /* --- indicators: each report's headline targets and results, and target against result ------------- */
  const IND_LABELS = {
    gdp_growth: "地区生产总值增速", gdp_total: "地区生产总值", budget_revenue_growth: "一般公共预算收入增速",
    budget_revenue: "一般公共预算收入", urban_jobs: "城镇新增就业", unemployment_rate: "城镇调查失业率",
    cpi: "居民消费价格涨幅", income_growth: "居民收入增速", grain_output: "粮食产量", energy_intensity: "单位GDP能耗",
    industry_growth: "规上工业增加值增速", investment_growth: "固定资产投资增速", retail_growth: "社会消费品零售总额增速",
    trade_growth: "外贸进出口增速", air_quality: "空气质量",
  };
  const VERDICTS = { met: "达到目标", above: "高于目标", below: "低于目标", "not comparable": "无法比较" };
  const SVG_NS = $("svg-ns").namespaceURI; // the page's own inline SVG tells the namespace (no URL in the code)
  const indLabel = (id) => IND_LABELS[id] || id;
  const indRank = (id) => (id in IND_LABELS ? Object.keys(IND_LABELS).indexOf(id) : 1000);

  function showIndicators(on) {
    const was = !$("indicators").hidden;
    $("indicators").hidden = !on;
    $("chat").hidden = on;
    $("indicators-open").setAttribute("aria-pressed", String(on));
    $("indicators-open").textContent = on ? "问答" : "指标";
    $("indicators-open").title = on ? "回到问答" : "各报告的主要指标";
    if (on && !was) {
      loadIndicators();
      $("ind-title").focus({ preventScroll: true });
    } else if (!on && was) {
      input.focus();
    }
  }
  $("indicators-open").addEventListener("click", () => showIndicators($("indicators").hidden));
  $("ind-place").addEventListener("change", () => loadIndicators());
  $("ind-indicator").addEventListener("change", () => loadIndicators());

  /** The query of the chosen filters (the same for the table, the pairs and the CSV). */
  function indQuery(format) {
    const p = new URLSearchParams();
    if ($("ind-place").value) p.set("place", $("ind-place").value);
    if ($("ind-indicator").value) p.set("indicator", $("ind-indicator").value);
    if (format) p.set("format", format);
    const q = p.toString();
    return q ? "?" + q : "";
  }

  async function loadIndicators() {
    const seq = ++state.ind.seq;
    const status = $("ind-status");
    status.textContent = "正在读取指标…";
    $("ind-csv").href = url("v1/indicators" + indQuery("csv"));
    try {
      if (!state.ind.loaded) {
        state.ind.all = (await apiJson("v1/indicators")).data;
        state.ind.loaded = true;
        fillIndicatorFilters();
        $("ind-csv").href = url("v1/indicators" + indQuery("csv"));
      }
      const q = indQuery();
      const [rows, pairs] = await Promise.all([
        q ? apiJson("v1/indicators" + q).then((b) => b.data) : state.ind.all,
        apiJson("v1/indicators/compare" + q).then((b) => b.data)]);
      if (seq !== state.ind.seq) return; // the filters changed meanwhile
      renderIndicatorTable(rows);
      renderPairs(pairs);
      const reports = new Set(rows.map((r) => r.doc)).size;
      status.textContent = rows.length ? `${reports} 份报告，${rows.length} 个数值，${pairs.length} 组目标与实际。`
        : "所选报告中没有找到主要指标。";
    } catch (err) {
      if (seq === state.ind.seq) status.textContent = "无法读取指标：" + err.message;
    }
  }

  /** The filters' options, from every row the library has (a choice still held is kept). */
  function fillIndicatorFilters() {
    const fill = (sel, values, label, all) => {
      const keep = sel.value;
      sel.textContent = "";
      sel.append(el("option", { value: "" }, all));
      for (const v of values) sel.append(el("option", { value: v }, label(v)));
      sel.value = values.includes(keep) ? keep : "";
    };
    const rows = state.ind.all;
    fill($("ind-place"), [...new Set(rows.map((r) => r.place).filter(Boolean))], (v) => v, "全部地方");
    fill($("ind-indicator"), [...new Set(rows.map((r) => r.indicator))].sort((a, b) => indRank(a) - indRank(b)),
         indLabel, "全部指标");
  }

  /** A value as a button: the kind (目标 / 实际, with the year when it is not the report's), the value as
   * written; it opens the report at the sentence it is read from. */
  function valueButton(row, kind, value, citation, year) {
    const k = kind === "target" ? "目标" : "实际";
    const when = row.period && row.period !== year ? `${row.period}年` : "";
    return el("button", {
      type: "button", class: "ind-val k-" + kind, "data-testid": "indicator-value", "data-doc": citation.doc,
      title: citation.quote, "aria-label": `${indLabel(row.indicator)} ${when}${k} ${value}：查看出处`,
      onclick: (e) => openCitation([citation], 0, e.currentTarget),
    }, el("span", { class: "k" }, when + k), value);
  }

  /** Rows: indicators; columns: the reports, grouped by place (the years of a place side by side). */
  function renderIndicatorTable(rows) {
    const head = $("ind-thead");
    const body = $("ind-rows");
    head.textContent = "";
    body.textContent = "";
    const reports = new Map();
    for (const r of rows) {
      if (!reports.has(r.doc)) reports.set(r.doc, { doc: r.doc, place: r.place || "—", year: r.year });
    }
    const places = new Map();
    for (const rep of reports.values()) {
      if (!places.has(rep.place)) places.set(rep.place, []);
      places.get(rep.place).push(rep);
    }
    const columns = [];
    for (const list of places.values()) {
      list.sort((a, b) => (a.year || 0) - (b.year || 0) || a.doc.localeCompare(b.doc));
      columns.push(...list);
    }
    if (!columns.length) return;
    head.append(
      el("tr", {}, el("th", { scope: "col", rowspan: "2", class: "ind-corner" }, "指标"),
        [...places].map(([place, list]) => el("th", { scope: "colgroup", colspan: String(list.length), class: "ind-place" },
                                               place))),
      el("tr", {}, columns.map((c) => {
        const d = state.docs.find((x) => x.id === c.doc);
        const extra = d && d.script === "traditional" ? " 繁体" : "";
        return el("th", { scope: "col", title: d ? d.title || d.name : c.doc, "data-doc": c.doc },
                  (c.year ? `${c.year}年` : "年份不详") + extra);
      })));
    const indicators = [...new Set(rows.map((r) => r.indicator))].sort((a, b) => indRank(a) - indRank(b));
    for (const ind of indicators) {
      body.append(el("tr", { "data-indicator": ind },
        el("th", { scope: "row" }, indLabel(ind)),
        columns.map((c) => {
          const here = rows.filter((r) => r.doc === c.doc && r.indicator === ind)
            .sort((a, b) => (a.kind === b.kind ? (b.period || 0) - (a.period || 0) : a.kind === "target" ? -1 : 1));
          return el("td", {}, here.length ? here.map((r) => valueButton(r, r.kind, r.value, r.citation, r.year))
                                          : el("span", { class: "ind-none", "aria-label": "无" }, "—"));
        })));
    }
  }

  /** (low, high, unit) of a written value, as the server reads it for its verdict: 「5%左右」 → 5, 5, %;
   * 「4.5%—5%」 → 4.5, 5, %; 「1100万人以上」 → 1.1e7; null for a value in words. */
  function quantity(value) {
    const nums = (String(value).match(/\d+(?:\.\d+)?/g) || []).map(Number);
    if (!nums.length) return null;
    const m = String(value).match(/\d\s*(万亿|亿|万)?\s*(%|％|个百分点|元|人|吨|斤|公斤|微克\/立方米|天)/);
    const mag = m && m[1] ? { "万亿": 1e12, "亿": 1e8, "万": 1e4 }[m[1]] : 1;
    const sign = /下降|降低|回落|微降|降到|降至|减少/.test(value) ? -1 : 1;
    const vals = nums.slice(0, 2).map((n) => sign * n * mag);
    return { low: Math.min(...vals), high: Math.max(...vals), unit: m ? m[2].replace("％", "%") : "" };
  }

  function svg(tag, attrs, ...kids) {
    const n = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, String(v));
    for (const c of kids) n.append(c);
    return n;
  }

  /** A small bar chart of one pair: the target (grey from zero; its range darker; a dashed line at the
   * figure the verdict is read against) above the result (coloured by the verdict). Null when the two
   * cannot be put on one scale (a target in words, different units). */
  function pairChart(p) {
    const t = quantity(p.target);
    const r = quantity(p.result);
    if (!t || !r || t.unit !== r.unit || p.verdict === "not comparable") return null;
    const W = 160, H = 34, pad = 6;
    const lo = Math.min(0, t.low, r.low);
    const hi = Math.max(0, t.high, r.low);
    const x = (v) => pad + ((v - lo) / ((hi - lo) || 1)) * (W - 2 * pad);
    const bar = (from, to, y, h, cls) => svg("rect", { x: Math.min(x(from), x(to)).toFixed(1), y, height: h,
      width: Math.max(Math.abs(x(to) - x(from)), 1.5).toFixed(1), class: cls });
    const line = x(/以上|不低于|突破|超过/.test(p.target) ? t.low : t.high).toFixed(1);
    const said = `目标 ${p.target}，实际 ${p.result}，${VERDICTS[p.verdict] || p.verdict}`;
    return svg("svg", { class: "ind-chart", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img",
                        "aria-label": said, "data-testid": "indicator-chart" },
      svg("title", {}, said),
      bar(0, t.high, 5, 10, "t"),
      t.low < t.high ? bar(t.low, t.high, 5, 10, "t-range") : "",
      bar(0, r.low, 19, 10, "r v-" + p.verdict.replace(/\s+/g, "-")),
      svg("line", { x1: line, x2: line, y1: 2, y2: 32, class: "t-line" }),
      svg("line", { x1: x(0).toFixed(1), x2: x(0).toFixed(1), y1: 2, y2: 32, class: "ax" }));
  }

  /** Target against result, place by place: the target (earlier report) and the result (later report)
   * side by side, each opening its sentence, the chart, and the verdict. */
  function renderPairs(pairs) {
    const box = $("ind-pairs");
    box.textContent = "";
    if (!pairs.length) {
      box.append(el("p", { class: "ind-none-note" }, "所选报告中没有可对照的目标与实际（需要同一地方前后两年的报告）。"));
      return;
    }
    const byPlace = new Map();
    for (const p of pairs) {
      if (!byPlace.has(p.place)) byPlace.set(p.place, []);
      byPlace.get(p.place).push(p);
    }
    for (const [place, list] of byPlace) {
      list.sort((a, b) => indRank(a.indicator) - indRank(b.indicator) || (a.period || 0) - (b.period || 0));
      const verdict = (p) => el("span", { class: "verdict v-" + p.verdict.replace(/\s+/g, "-") },
                                VERDICTS[p.verdict] || p.verdict);
      box.append(el("section", { class: "ind-place-pairs", "data-place": place },
        el("h4", {}, place),
        el("div", { class: "ind-wrap" }, el("table", { class: "ind-pairs" },
          el("caption", { class: "sr-only" }, `${place}：目标与实际`),
          el("thead", {}, el("tr", {}, ["指标", "年份", "目标", "实际", "对照", "结果"].map((h) => el("th", { scope: "col" }, h)))),
          el("tbody", {}, list.map((p) => el("tr", { "data-indicator": p.indicator, "data-verdict": p.verdict },
            el("th", { scope: "row" }, indLabel(p.indicator)),
            el("td", {}, p.period ? `${p.period}年` : "—"),
            el("td", {}, p.target_citation ? valueButton(p, "target", p.target, p.target_citation, p.period)
                                           : p.target),
            el("td", {}, p.result_citation ? valueButton(p, "result", p.result, p.result_citation, p.period)
                                           : p.result),
            el("td", { class: "ind-chart-cell" }, pairChart(p) || el("span", { class: "ind-none" }, "—")),
            el("td", {}, verdict(p)))))))));
    }
  }

  /** The CSV of the chosen rows: fetched with the key (a plain link could not send it), then saved. */
  $("ind-csv").addEventListener("click", async (e) => {
    e.preventDefault();
    const status = $("ind-status");
    try {
      const res = await api("v1/indicators" + indQuery("csv"));
      if (!res.ok) throw await failure(res);
      const blob = await res.blob();
      const link = el("a", { href: URL.createObjectURL(blob), download: "indicators.csv", hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      status.textContent = "已下载 indicators.csv。";
    } catch (err) {
      status.textContent = "下载失败：" + err.message;
    }
  });

  start();
})();
