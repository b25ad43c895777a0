"""A question cut into parts: one per place, year or indicator it names side by side
(「甲市和乙县…」「2023年和2024年…」「A和B各是多少」), or a target and the result reported for it
(「…的目标完成了吗？」). Each part is then planned and answered on its own (`plan`, `compose`).
Every pattern is about how questions are worded, never about what one report says."""

from __future__ import annotations

import re

from rag.search.plan import COMPLETION_RE, GROWTH_RE, RELATION_WORDS, RESULT_RE, TARGET_RE, TIME_WORDS_RE, clean_part

_GROWTH_END = re.compile(r"(增长|增速|增幅|下降|降低|降幅|上涨|涨幅|提高|增加|减少)$")
_DONE_VERB = {"增速": "增长", "增幅": "增长", "涨幅": "上涨", "降幅": "下降"}
# 「…，实际增长多少」「与实际增速」「与去年实际完成数」: where the result clause of a target-and-result question starts.
_RESULT_CLAUSE = re.compile(r"[，,、；;]\s*(?:而|但)?|(?:与|和|及|以及|同)(?=[^，,。？?]{0,14}(?:实际|完成|实现))")


def target_and_result(question: str) -> list[str] | None:
    """The target and the result of one indicator as two questions, when a question asks for both
    in one clause or asks whether a target was met:
    「甲省2025年的增长目标完成得怎么样？」 → 「甲省2025年的增长目标是多少？」「甲省2025年实际增长了多少？」;
    「乙县投资计划增长多少，实际增长多少？」 → the two clauses, each naming the indicator.
    None when it does not ask that."""
    m = COMPLETION_RE.search(question)
    if m:
        head = question[: m.start()]
        # the verb of the completion phrase may carry the measure: 「完成了增长3%的目标吗」
        measure = re.search(r"(增长|增速|增幅|下降|降低|降幅|上涨|涨幅|提高|增加|减少)", question[m.start() : m.end()])
        t = re.search(r"(?:的)?(?:年度|年初|预期|既定|原定|规划)?(?:目标|任务|计划)", head)
        stem = head[: t.start()] if t else head
        stem = re.sub(r"(?:定的|确定的|提出的|制定的)$", "", stem).rstrip(" ，,的")
        stem = re.sub(r"(?:的)?(?:年度|年初|预期|既定|原定)$", "", stem)
        if measure and not _GROWTH_END.search(stem):
            stem += measure.group(1)
        return _pair_from_stem(stem)
    t = TARGET_RE.search(question)
    r = RESULT_RE.search(question)
    if not t or not r or len(re.findall(r"[？?]", question)) > 1:
        return None
    first, second = (t, r) if t.start() < r.start() else (r, t)
    cut = [c for c in _RESULT_CLAUSE.finditer(question) if first.end() <= c.start() and c.end() <= second.start() + 1]
    if not cut:
        return None
    c = cut[-1]
    left = question[: c.start()].rstrip(" ，,、；;")
    right = question[c.end() :]
    stem = question[: first.start()].rstrip(" ，,的")
    stem = re.sub(r"(?:的)?(?:年度|年初|预期|既定|原定)$", "", stem)
    if _TIME_IN.search(right):  # the second clause names its own year: the stem's goes
        stem = _TIME_IN.sub("", stem)
        words = re.findall(r"[\u4e00-\u9fff]{2,}", stem)
        if words and any(w[-4:] in right for w in words):  # and it names the indicator again
            stem = stem[: stem.find(words[-1])] if len(words) > 1 else ""
    if GROWTH_RE.search(right):  # 「…的增长目标与实际增速」: the measure is the second clause's own
        stem = re.sub(r"(?:的)?(?:增长|增速|增幅|下降|降幅|上涨|涨幅|提高)$", "", stem)
    if len(re.sub(r"\W", "", stem + right)) < 4:
        return None
    return [clean_part(left), clean_part(stem + right)]


_TIME_IN = re.compile(r"(?:19|20)\d{2}\s*年(?:度)?|今年|去年|上年|明年|当年|本年|[（(]\s*(?:19|20)\d{2}\s*年\s*[）)]")


def _pair_from_stem(stem: str) -> list[str] | None:
    stem = re.sub(r"^\s*(?:请问)?", "", stem)
    if len(re.sub(r"\W", "", stem)) < 3:
        return None
    growth = _GROWTH_END.search(stem)
    target = f"{stem}目标是多少？"
    if growth:
        body = stem[: growth.start()].rstrip("的")
        result = f"{body}实际{_DONE_VERB.get(growth.group(1), growth.group(1))}了多少？"
    else:
        result = f"{stem}实际是多少？"
    return [target, result]


# 「…，与去年的实际值相比是高还是低？」「比上年快还是慢」: the second figure and the two words to compare by.
_COMPARE_RE = re.compile(
    r"[，,；;]?\s*(?:与|和|同|跟|比|较)([^，,。？?；;]{1,24}?)(?:相比|比较|相较)?[，,]?\s*"
    r"(?:是|哪个|谁)?更?(高|快|多|大|长)还是更?(低|慢|少|小|短)了?\s*[？?。]?\s*$"
)
# 「甲、乙两年的…分别是多少」: two parallel conjuncts before 的/时期/分别.
_PAIR_RE = re.compile(
    r"([^，,。？?；;和与及、\s]{1,12}?)(和|与|及|、)([^，,。？?；;和与及、\s]{1,12}?)(?=的|时期|期间|分别|各)"
)


def split_parts(question: str) -> tuple[list[str], tuple[str, str] | None, list[int]]:
    """The questions one question asks, in order, the comparison it wants, if any, and which
    parts are follow-ups that leave out what the first part names (「2015年的目标又是多少？」).

    「甲市去年新增就业多少人？今年的目标又是多少？」 → two questions; 「甲市2023年和2024年的…分别是
    多少？」 → one per year; 「今年的目标是多少？与去年的实际值相比是高还是低？」 → the target, then
    「去年的实际值是多少？」, and the comparison is made in code from the two figures."""
    pieces: list[str] = []
    for p in (p.strip() for p in re.findall(r"[^？?]+[？?]?", question) if len(p.strip(" ？?，,")) >= 2):
        if pieces and len(re.findall(r"[\u4e00-\u9fff]", TIME_WORDS_RE.sub("", p))) < 2:
            pieces[-1] = pieces[-1].rstrip("？?") + p  # 「…多少？（2025年）」: a note on the piece before
        else:
            pieces.append(p)
    parts: list[tuple[str, bool]] = []  # (part, whether it is a follow-up)
    compare = None
    for piece in pieces:
        m = _COMPARE_RE.search(piece)
        if m and compare is None:
            head = piece[: m.start()].strip(" ，,；;")
            if len(head) >= 4:
                parts.append((head + ("？" if re.search(r"多少|几|哪|什么", head) else "是多少？"), bool(parts)))
            parts.append((f"{m.group(1).strip()}是多少？", True))
            compare = (m.group(2), m.group(3))
            continue
        follow = bool(parts)
        for clause in _split_clauses(piece):
            parts.extend((p, follow) for p in _split_pair(clause))
            follow = True
    parts = [(p, f) for p, f in parts if len(p.strip(" ？?，,")) >= 4]
    if len(parts) < 2:
        return [question], None, []
    return [p for p, _ in parts], compare, [i for i, (_, f) in enumerate(parts) if f and i]


def _split_clauses(piece: str) -> list[str]:
    """「甲省2024年地区生产总值是多少，增长了多少？」 → two questions: clauses split at a comma when each
    of them asks (多少, 几, 什么 …); a clause that does not ask stays with the one it leads."""
    clauses = [c for c in re.split(r"(?<=[\u4e00-\u9fff])[，,；;](?=[^，,；;]*[\u4e00-\u9fff])", piece) if c.strip()]
    if len(clauses) < 2 or not all(_ASKS_FIGURE.search(c) for c in clauses):
        return [piece]
    return [c.strip().rstrip("？?") + "？" for c in clauses]


_ASKS_FIGURE = re.compile(r"多少|几[个项家座所条万亿]|什么|哪些|哪几")


def _split_pair(piece: str) -> list[str]:
    """「甲和乙的X分别是多少」 → 「甲的X是多少」「乙的X是多少」, when 甲 and 乙 are parallel (same
    length and last character: two years, two plan periods); otherwise the piece as it is."""
    if "分别" not in piece and not re.search(r"各(?=[是为有增达完])", piece):
        return [piece]
    for m in _PAIR_RE.finditer(piece):
        left, right = m.group(1), m.group(3)
        if len(left) > len(right):
            left = left[-len(right) :]
        if len(left) != len(right) or left[-1] != right[-1] or left == right:
            continue
        if not all(re.search(r"\d|十[一二三四五六七八九]五", x) for x in (left, right)):
            continue  # not two years or periods: 「预算收入和税收收入」 are read as two indicators below
        start = m.end(1) - len(left)
        before, after = piece[:start], piece[m.end(3) :]
        after = re.sub(
            r"分别(?:是|为|有)?|各(?=[是为有增达完])",
            lambda x: x.group(0)[2:] if x.group(0).startswith("分别") else "",
            after,
            count=1,
        )
        return [before + left + after, before + right + after]
    return _split_indicators(piece)


# 「…的居民消费价格和城镇调查失业率各是多少」: two indicators, each named in full, asked of at once.
_INDICATOR_WORD = r"(?:(?![的年和与及])[\u4e00-\u9fffA-Za-z.]){4,16}?"
_INDICATOR_PAIR = re.compile(
    rf"(?:的|年|[，,\s])({_INDICATOR_WORD})(?:和|与|及|以及|、)({_INDICATOR_WORD})"
    r"(分别|各(?=[是为有增达完]))"
)


def _split_indicators(piece: str) -> list[str]:
    """「甲省2025年的A和B各是多少」 → 「甲省2025年的A是多少」「甲省2025年的B是多少」 when A and B each
    name an indicator in full (four characters at least: 「城镇和农村居民收入分别增长多少」 shares its
    noun and stays one question)."""
    m = _INDICATOR_PAIR.search(piece)
    if (
        m is None
        or sum("\u4e00" <= ch <= "\u9fff" for ch in m.group(1)) < 4
        or sum("\u4e00" <= ch <= "\u9fff" for ch in m.group(2)) < 4
    ):
        return [piece]
    before, after = piece[: m.start(1)], piece[m.end(3) :]
    if m.group(3) == "分别":
        after = re.sub(r"^(?:是|为|有)", "是", after)
    return [before + m.group(1) + after, before + m.group(2) + after]


_YEAR_MENTION = re.compile(r"(?:19|20)\d{2}\s*年(?:的|度)?")
_LINKS = r"(?:和|与|及|、|同|跟|到|至|比|较|以及|对比|相比)"


def vary(text: str, spans: list[tuple[int, int]], keep: int) -> str:
    """The question with only the `keep`-th of several parallel mentions (two years, two places):
    the others go, with the word that linked them (「2025年和2026年」 → 「2025年」; 「从2025年到
    2026年」 → 「2025年」)."""
    out = text
    for i in sorted(range(len(spans)), key=lambda i: -spans[i][0]):
        if i == keep:
            continue
        s, e = spans[i]
        before = re.search(rf"{_LINKS}\s*$", out[:s])
        after = re.match(rf"\s*{_LINKS}", out[e:])
        if before:
            s = before.start()
        elif after:
            e = e + after.end()
        out = out[:s] + out[e:]
    out = re.sub(r"从(?=\s*(?:19|20)\d{2}\s*年)", "", out)
    return clean_part(out)


def parallel_parts(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """See `parallel_split`; the parts only."""
    return parallel_split(text, spans)[0]


def parallel_split(text: str, spans: list[tuple[int, int]]) -> tuple[list[str], list[int]]:
    """One question per mention (two places, two years) of a question that asks the same of each,
    and which of them are follow-ups.

    Mentions side by side (「甲市和乙县今年的…」「2025年到2026年」) are kept one at a time (`vary`);
    apart (「甲省2026年的目标和2025年的相比」), the question up to the second mention is asked again
    with the first mention replaced by each in turn (「甲省2026年的目标」「甲省2025年的目标」)."""
    between = text[spans[0][1] : spans[1][0]]
    if re.fullmatch(rf"\s*(?:从)?{_LINKS}\s*", between):
        return [vary(text, spans, i) for i in range(len(spans))], []
    head = re.sub(rf"(?:{_LINKS}|的|[，,、\s])+$", "", text[: spans[1][0]])
    tail = text[spans[1][0] :]
    own = RELATION_WORDS.sub("", tail[spans[1][1] - spans[1][0] :])
    own = re.sub(r"(?:是|为|有)?(?:多少|几|什么|哪些?)|[？?。，,、\s的]|相比|比较", "", own)
    if len(spans) == 2 and len(re.findall(r"[\u4e00-\u9fff]", own)) >= 4:
        # 「甲市2024年计划的场次和乙县2023年实际完成的场次分别是多少」: the second asks its own question,
        # of the same thing as the first (a follow-up: it is looked for and asked with the first's words)
        return [clean_part(head), clean_part(tail)], [1]
    s, e = spans[0]
    out = []
    for ss, ee in spans:
        mention = re.sub(r"(?:的|度)$", "", text[ss:ee])
        out.append(clean_part(head[:s] + mention + head[e:] if (ss, ee) != (s, e) else head))
    return out, []


def year_spans(text: str, years: list[int]) -> list[tuple[int, int]]:
    """Where each of the distinct `years` is first mentioned (「2025年」), in order of mention."""
    spans = []
    for y in years:
        m = re.search(rf"{y}\s*年(?:的|度)?", text)
        if m:
            spans.append(m.span())
    return sorted(spans)
