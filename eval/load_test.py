"""Load test of a running API server: N concurrent clients on loopback for a bounded time.

    .venv/bin/rag serve &                       # in another terminal, or in the background
    .venv/bin/python eval/load_test.py --clients 20 --seconds 60 --pid $(pgrep -f "rag serve" | head -1)

Each client loops until the time is up, picking an endpoint by weight (`--mix`): `/v1/search`,
`/v1/ask` and `/v1/chat/completions`, each answer endpoint with and without streaming, and, for a soak,
`upload` (a small made-up report through `POST /v1/documents`), `delete` (removes one of the run's own
uploads) and `list`. A 503 (the answer queue is full) is expected under load: the client waits for
Retry-After, as a well-behaved client would (`--no-backoff` retries at once). Requests still running when
the time is up may finish within `--timeout`; then the test stops regardless, and the run's uploads that
are left are deleted.

Prints, per endpoint: requests, throughput, status counts, latency percentiles of successful requests
(p50/p95/p99; for streams also the time to the first answer token), and with `--pid` the server's
resident memory and open file descriptors, sampled every second: before, after, peak, and the slope
over the second half of the run (after warm-up), so a leak shows as a steady climb. A request fails
when it gets a 5xx, a 503 without Retry-After, no response, a broken stream or a 2xx without the
expected body; 4xx answers are counted, not failures. Exits 1 on any failure. Only loopback URLs are
accepted: this is not a tool to point at someone else's server.

    # the soak: 50 clients for 10 minutes, every kind of request
    .venv/bin/python eval/load_test.py --clients 50 --seconds 600 --mix soak --pid $(pgrep -f "rag serve" | head -1)
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx

QUESTIONS = [
    "忻州今年要新认定多少家高新技术企业？",
    "代县今年全县5G基站要达到多少座？",
    "太原今年计划新增公共停车位多少个？",
    "朔州2024年地区生产总值预期增长多少？",
    "忻州去年城镇新增就业多少人？",
    "代縣今年全縣5G基站要達到多少座？",
    "How many new high-tech enterprises does Xinzhou plan to certify this year?",
    "大同今年要新建多少座5G基站？",
    "太原今年要改造多少个老旧小区？",
    "朔州今年粮食产量目标是多少？",
]
ENDPOINTS = ("search", "ask", "ask-stream", "chat", "chat-stream", "upload", "delete", "list")
DEFAULT_MIX = "search=4,ask=1,ask-stream=1,chat=1,chat-stream=1"
MIXES = {"soak": "search=4,ask=1,ask-stream=1,chat=1,chat-stream=1,upload=0.3,delete=0.3,list=1"}
# A made-up report to upload (invented place, figures no real report has); each upload varies a figure so
# that no two uploads are the same document.
UPLOAD_TEMPLATE = """丙市2024年政府工作报告

——2024年2月20日在丙市第八届人民代表大会第四次会议上

各位代表：

现在，我代表市人民政府，向大会报告工作，请予审议。

一、2023年工作回顾

过去一年，全市地区生产总值增长5.1%，新建城市书房{n}个。

二、2024年工作安排

今年全市新建智慧农业示范园区37个，改造城镇老旧小区128个，新增城市绿地面积46公顷。
"""


@dataclass
class Record:
    endpoint: str
    status: int | str  # HTTP status, or the exception name
    latency_s: float
    first_token_s: float | None = None
    ok: bool = False
    retry_missing: bool = False  # a 503 that did not say when to come back


@dataclass
class Run:
    records: list[Record] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, KiB)
    fds: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, open descriptors)
    uploads: list[str] = field(default_factory=list)  # ids of this run's uploads not yet deleted
    upload_count: int = 0
    salt: int = field(default_factory=lambda: random.randrange(100, 1000))


def loopback_only(url: str) -> str:
    parsed = urlparse(url)
    host = parsed.hostname or ""
    if parsed.scheme not in ("http", "https"):
        raise SystemExit(f"refusing {url}: not an http(s) URL")
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise SystemExit(f"refusing {url}: only loopback servers (127.0.0.1, ::1, localhost) may be load-tested")
    return url.rstrip("/")


def parse_mix(text: str) -> dict[str, float]:
    text = MIXES.get(text, text)
    mix = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in ENDPOINTS:
            raise SystemExit(f"unknown endpoint '{name}' in --mix; choose from {', '.join(ENDPOINTS)}")
        mix[name] = float(weight or 1)
    if not any(w > 0 for w in mix.values()):
        raise SystemExit("--mix needs a positive weight")
    return mix


def rss_kib(pid: int) -> int | None:
    """Resident memory of a process in KiB (Linux /proc)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def open_fds(pid: int) -> int | None:
    """Open file descriptors of a process (Linux /proc)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def slope_per_min(samples: list[tuple[float, int]]) -> float | None:
    """Least-squares slope (units per minute) over the second half of the samples: the first half is
    warm-up (the model's buffers, caches filling), the second shows whether anything keeps growing."""
    half = samples[len(samples) // 2:]
    if len(half) < 3:
        return None
    ts, vs = [t for t, _ in half], [v for _, v in half]
    mt, mv = statistics.fmean(ts), statistics.fmean(vs)
    den = sum((t - mt) ** 2 for t in ts)
    return round(60 * sum((t - mt) * (v - mv) for t, v in zip(ts, vs)) / den, 3) if den else None


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return round(values[lo] + (values[hi] - values[lo]) * (k - lo), 3)


def request_for(endpoint: str, question: str, model: str | None) -> tuple[str, dict]:
    if endpoint == "search":
        return "/v1/search", {"question": question, "k": 5}
    if endpoint.startswith("ask"):
        body = {"question": question, "stream": endpoint.endswith("stream")}
        if model:
            body["model"] = model
        return "/v1/ask", body
    body = {"model": model or "gov-report-rag", "messages": [{"role": "user", "content": question}],
            "stream": endpoint.endswith("stream")}
    return "/v1/chat/completions", body


def _record(endpoint: str, r: httpx.Response, t0: float, ok: bool, first: float | None = None) -> Record:
    """The record of one response; a 503 must say when to come back (Retry-After)."""
    missing = r.status_code == 503 and not r.headers.get("retry-after")
    return Record(endpoint, r.status_code, time.perf_counter() - t0, first, ok=ok, retry_missing=missing)


async def document_op(http: httpx.AsyncClient, endpoint: str, run: Run) -> tuple[Record, float]:
    """Upload, delete or list documents; deletes only this run's own uploads."""
    t0 = time.perf_counter()
    try:
        if endpoint == "list":
            r = await http.get("/v1/documents")
            ok = r.status_code == 200 and isinstance(r.json(), list)
        elif endpoint == "upload":
            run.upload_count += 1
            n = run.salt * 1000 + run.upload_count  # unique across runs too: a repeated upload is a 409
            r = await http.post("/v1/documents", json={"name": f"丙市-{n}.txt", "text": UPLOAD_TEMPLATE.format(n=n)})
            ok = r.status_code == 201 and bool(r.json().get("document"))
            if ok:
                run.uploads.append(r.json()["document"]["id"])
        else:
            if not run.uploads:
                r = await http.get("/v1/documents")
                ok = r.status_code == 200
            else:
                doc = run.uploads.pop(random.randrange(len(run.uploads)))
                r = await http.delete(f"/v1/documents/{doc}")
                ok = r.status_code == 200
                if r.status_code >= 500 or r.status_code == 503:
                    run.uploads.append(doc)  # not removed: try again later
        return _record(endpoint, r, t0, ok), _retry_after(r)
    except httpx.HTTPError as exc:
        return Record(endpoint, type(exc).__name__, time.perf_counter() - t0), 0.0


async def one(http: httpx.AsyncClient, endpoint: str, question: str, model: str | None,
              run: Run | None = None) -> tuple[Record, float]:
    """One request; returns its record and how long the server asked us to wait (Retry-After)."""
    if endpoint in ("upload", "delete", "list"):
        return await document_op(http, endpoint, run or Run())
    path, body = request_for(endpoint, question, model)
    t0 = time.perf_counter()
    first = None
    try:
        if not endpoint.endswith("stream"):
            r = await http.post(path, json=body)
            ok = r.status_code == 200
            if ok and endpoint == "search":
                ok = isinstance(r.json(), list)
            elif ok:
                data = r.json()
                ok = bool(data.get("answer") or data.get("choices"))
            return _record(endpoint, r, t0, ok), _retry_after(r)
        async with http.stream("POST", path, json=body) as r:
            if r.status_code != 200:
                await r.aread()
                return _record(endpoint, r, t0, False), _retry_after(r)
            complete = errored = False
            async for line in r.aiter_lines():
                if first is None and _is_first_text(line):
                    first = time.perf_counter() - t0
                if line.startswith("event: done") or line == "data: [DONE]":
                    complete = True
                if line.startswith("event: error") or line.startswith('data: {"error"'):
                    errored = True
            status = 200 if complete and not errored else "stream-error"
            return Record(endpoint, status, time.perf_counter() - t0, first, ok=status == 200), 0.0
    except httpx.HTTPError as exc:
        return Record(endpoint, type(exc).__name__, time.perf_counter() - t0), 0.0


def _is_first_text(line: str) -> bool:
    """A line that carries answer text: a native `token`/`answer` event, or an OpenAI chunk with content."""
    if line.startswith(("event: token", "event: answer")):
        return True
    if line.startswith("data: {"):
        try:
            choices = json.loads(line[6:]).get("choices") or []
        except ValueError:
            return False
        return bool(choices and (choices[0].get("delta") or {}).get("content"))
    return False


def _counted_503_ok(r: Record) -> bool:
    """A 503 record is a failure only when it came without Retry-After (marked by `retry_missing`)."""
    return not r.retry_missing


def _retry_after(r: httpx.Response) -> float:
    if r.status_code != 503:
        return 0.0
    try:
        return float(r.headers.get("retry-after", "1"))
    except ValueError:
        return 1.0


async def client_loop(n: int, http: httpx.AsyncClient, deadline: float, mix: dict[str, float], run: Run,
                      backoff: bool, model: str | None) -> None:
    rnd = random.Random(n)
    names, weights = zip(*mix.items())
    while time.monotonic() < deadline:  # bounded: the deadline is fixed
        endpoint = rnd.choices(names, weights)[0]
        rec, wait = await one(http, endpoint, rnd.choice(QUESTIONS), model, run)
        run.records.append(rec)
        if wait:
            await asyncio.sleep(min(wait, max(0.0, deadline - time.monotonic())) if backoff else 0.05)


async def sample_rss(pid: int, run: Run, stop: asyncio.Event) -> None:
    t0 = time.monotonic()
    while not stop.is_set():
        v, f = rss_kib(pid), open_fds(pid)
        if v:
            run.rss.append((time.monotonic() - t0, v))
        if f is not None:
            run.fds.append((time.monotonic() - t0, f))
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except asyncio.TimeoutError:
            pass


async def main_async(args) -> dict:
    base = loopback_only(args.url)
    mix = parse_mix(args.mix)
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    limits = httpx.Limits(max_connections=args.clients + 2, max_keepalive_connections=args.clients + 2)
    run = Run()
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=args.timeout, limits=limits) as http:
        ready = await http.get("/readyz")
        if ready.status_code != 200:
            raise SystemExit(f"the server is not ready: {ready.text}")
        before_queue = ready.json().get("queue", {})
        rss_before = rss_kib(args.pid) if args.pid else None
        fds_before = open_fds(args.pid) if args.pid else None
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_rss(args.pid, run, stop)) if args.pid else None
        t0 = time.monotonic()
        deadline = t0 + args.seconds
        clients = [client_loop(i, http, deadline, mix, run, not args.no_backoff, args.model) for i in range(args.clients)]
        try:  # in-flight requests may finish within --timeout, then everything stops
            await asyncio.wait_for(asyncio.gather(*clients), args.seconds + args.timeout + 5)
        except asyncio.TimeoutError:
            print("stopped: requests were still running past the grace period", file=sys.stderr)
        elapsed = time.monotonic() - t0
        stop.set()
        if sampler:
            await sampler
        for doc in list(run.uploads):  # leave the server's documents as they were
            r = await http.delete(f"/v1/documents/{doc}")
            if r.status_code == 200:
                run.uploads.remove(doc)
        after_queue = (await http.get("/readyz")).json().get("queue", {})
    await asyncio.sleep(1.0)  # the clients' connections are closed: what is left open is the server's own
    rss_after = rss_kib(args.pid) if args.pid else None
    fds_after = open_fds(args.pid) if args.pid else None
    out = summarise(run, elapsed, args, rss_before, rss_after, before_queue, after_queue)
    if args.pid:
        out["fds"] = {"before": fds_before, "after": fds_after, "peak": max((f for _, f in run.fds), default=None),
                      "slope_per_min": slope_per_min(run.fds)}
        out["rss_mib"]["slope_mib_per_min"] = (round(s / 1024, 3) if (s := slope_per_min(run.rss)) is not None
                                               else None)
    out["uploads_left"] = len(run.uploads)
    return out


def summarise(run: Run, elapsed: float, args, rss_before, rss_after, qb: dict, qa: dict) -> dict:
    by: dict[str, list[Record]] = defaultdict(list)
    for r in run.records:
        by[r.endpoint].append(r)
    endpoints = {}
    for name in ENDPOINTS:
        recs = by.get(name, [])
        if not recs:
            continue
        ok = [r.latency_s for r in recs if r.ok]
        first = [r.first_token_s for r in recs if r.ok and r.first_token_s is not None]
        endpoints[name] = {
            "requests": len(recs), "ok": len(ok), "ok_per_s": round(len(ok) / elapsed, 3),
            "status": dict(Counter(str(r.status) for r in recs)),
            "p50_s": pct(ok, 0.5), "p95_s": pct(ok, 0.95), "p99_s": pct(ok, 0.99),
            "mean_s": round(statistics.fmean(ok), 3) if ok else None,
            "first_token_p50_s": pct(first, 0.5), "first_token_p95_s": pct(first, 0.95),
        }
    status = Counter(str(r.status) for r in run.records)
    # failures: 5xx (a 503 only without Retry-After), no response, a broken stream, a 2xx without its body
    failures = sum(1 for r in run.records if not r.ok and not (isinstance(r.status, int) and 400 <= r.status < 500)
                   and not (r.status == 503 and _counted_503_ok(r)))
    out = {
        "url": args.url, "clients": args.clients, "seconds": round(elapsed, 1), "mix": args.mix,
        "requests": len(run.records), "throughput_per_s": round(len(run.records) / elapsed, 2),
        "ok_per_s": round(sum(1 for r in run.records if r.ok) / elapsed, 2),
        "status": dict(status), "failures": failures, "endpoints": endpoints,
        "server_queue": {k: qa.get(k, 0) - qb.get(k, 0) for k in ("answered", "cancelled", "rejected", "timed_out", "failed")},
    }
    if args.pid:
        out["rss_mib"] = {"before": round(rss_before / 1024, 1) if rss_before else None,
                          "after": round(rss_after / 1024, 1) if rss_after else None,
                          "peak": round(max(v for _, v in run.rss) / 1024, 1) if run.rss else None}
    return out


def print_report(s: dict) -> None:
    print(f"{s['clients']} clients, {s['seconds']} s against {s['url']} (mix {s['mix']})")
    print(f"requests {s['requests']} ({s['throughput_per_s']}/s), successful {s['ok_per_s']}/s, "
          f"status {s['status']}, failures other than 503: {s['failures']}")
    head = f"{'endpoint':<12}{'req':>6}{'ok':>6}{'ok/s':>8}{'p50 s':>9}{'p95 s':>9}{'p99 s':>9}{'1st tok p50':>13}  status"
    print(head)
    for name, e in s["endpoints"].items():
        def f(v):
            return "-" if v is None else f"{v:.3f}"
        print(f"{name:<12}{e['requests']:>6}{e['ok']:>6}{e['ok_per_s']:>8.3f}{f(e['p50_s']):>9}{f(e['p95_s']):>9}"
              f"{f(e['p99_s']):>9}{f(e['first_token_p50_s']):>13}  {e['status']}")
    print(f"server queue during the run: {s['server_queue']}")
    if "rss_mib" in s:
        r = s["rss_mib"]
        print(f"server RSS: before {r['before']} MiB, after {r['after']} MiB, peak {r['peak']} MiB, "
              f"slope over the second half {r.get('slope_mib_per_min')} MiB/min")
    if "fds" in s:
        f = s["fds"]
        print(f"server open files: before {f['before']}, after {f['after']}, peak {f['peak']}, "
              f"slope over the second half {f['slope_per_min']}/min")
    print(f"uploads of this run left on the server: {s['uploads_left']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8000", help="Server base URL (loopback only).")
    ap.add_argument("--clients", type=int, default=20, help="Concurrent clients.")
    ap.add_argument("--seconds", type=float, default=60, help="How long clients start new requests.")
    ap.add_argument("--timeout", type=float, default=120, help="Per-request timeout, also the grace period at the end.")
    ap.add_argument("--mix", default=DEFAULT_MIX, help=f"Endpoint weights (default {DEFAULT_MIX}).")
    ap.add_argument("--model", default=None, help="Model id to request (default: the server's).")
    ap.add_argument("--api-key", default=None, help="Bearer key, when the server has one.")
    ap.add_argument("--pid", type=int, default=None, help="Server process id, to report its memory.")
    ap.add_argument("--no-backoff", action="store_true", help="Retry at once after a 503 instead of honouring Retry-After.")
    ap.add_argument("--json", action="store_true", help="Print the summary as JSON.")
    args = ap.parse_args(argv)
    if not 1 <= args.clients <= 500 or not 0 < args.seconds <= 3600 or args.timeout <= 0:
        raise SystemExit("--clients must be 1..500, --seconds 0..3600, --timeout positive")
    summary = asyncio.run(main_async(args))
    print(json.dumps(summary, ensure_ascii=False, indent=1) if args.json else "", end="\n" if args.json else "")
    if not args.json:
        print_report(summary)
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
