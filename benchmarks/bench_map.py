"""`kimi_lab.map` over many rows against the loopback server, beside a bare `AsyncOpenAI` loop (issue 13).

The loopback server runs in a subprocess (so it does not share the client's GIL) and answers every
chat request after `latency` seconds with a streamed echo; its listen backlog is raised from
socketserver's 5, which reset some of 64 connections opened at once. Reported:
1. throughput, side by side against one server process with the same prompts and max_tokens:
   kimi_lab.map, a bare `asyncio.gather` + `Semaphore(concurrency)` loop over one `openai.AsyncOpenAI`
   (stream=True, every chunk read) and the ideal rows x latency / concurrency; targets map/ideal
   <= 1.15 and map at least as fast as the bare loop. The client's CPU seconds per request say
   whether the ideal is reachable: CPU per request x rows above the ideal time means CPU-bound.
   Requests started together finish together and then queue for the client's CPU: each wave of
   `concurrency` requests adds about half of concurrency x CPU per request (~0.16 s here) to every
   round trip, which the ideal leaves out. So a second configuration, default 384 rows at 2 s, makes
   that small beside the latency: there map/ideal is the scheduler's own overhead (at 1,280 rows x
   500 ms it measured 1.14-1.32 in five runs, the bare loop 1.19-1.39). And a third client, the
   server floor: the same requests over raw sockets, read to the end and not parsed. Its time is
   what this server process allows on this machine whatever the client does: floor/ideal above
   1.15 means the 1.15 target cannot be met here by any client. map runs as users run it
   (resume=True: every row looked up, claimed and saved in the checkpoint);
2. RPM accuracy: `Admission` driven directly by many threads that acquire and release at once,
   with the window scaled down (default 6 s): admitted rate within 5% of the limit; and one
   end-to-end map with `rpm` against a server limiting the same rate over a scaled window
   (429s it sent, most requests it saw in any one window);
3. memory under tracemalloc (which slows the client about 3x, hence the small default pair):
   peak traced bytes per row minus the output frame's own bytes per row, at two row counts;
   target: the larger run's per-row overhead <= 1.2x the smaller's. Also what is still held after
   gc.collect(), and how much each row leaves in reference cycles: the peak depends on when the
   cyclic collector happens to run, so it varies from run to run;
4. progress redraws per second with progress="text" on a terminal (target <= 10);
5. what the row claims (two kernels, one bill) cost: map with resume=True against resume=False,
   alternating, median of 3 (target: at most 5% slower).
The checkpoint goes to a temporary folder (KIMI_LAB_TRANSCRIPTS) and every run asks every row.

    env -u PYTHONDONTWRITEBYTECODE .venv/bin/python benchmarks/bench_map.py [--rows 10000 --latency 0.05
        --concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import io
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from dataclasses import dataclass
from typing import Any

MODEL = "kimi-k2-thinking"
MAX_TOKENS = 256

# The server's own process: a LoopbackServer, then commands on stdin, one JSON line back for each.
SERVER = r"""
import json, sys, time
from kimi_lab.testing import LoopbackServer
from kimi_lab.testing._http import _HTTPServer
_HTTPServer.request_queue_size = 256  # socketserver's listen backlog is 5: 64 clients connecting at once got resets
latency, limits, window = float(sys.argv[1]), json.loads(sys.argv[2]), float(sys.argv[3])
server = LoopbackServer(latency=latency, port=0, limits=limits or None, limit_window=window).start()
print(server.base_url, flush=True)
for line in sys.stdin:
    cmd, *arg = line.split()
    if cmd == "latency":
        server.latency = float(arg[0])
        out = {}
    elif cmd == "clear":
        server.clear()
        out = {}
    else:  # stats [window [n]]: since the last clear; most arrivals in any (t - window, t]; first n's spread
        reqs = server.chat_requests
        times = sorted(r.time for r in reqs)
        most, lo = 0, 0
        span = float(arg[0]) if arg else 0.0
        n = int(arg[1]) if len(arg) > 1 else 0
        for hi, t in enumerate(times):
            while span and times[lo] <= t - span:
                lo += 1
            most = max(most, hi - lo + 1)
        held = sorted(r.finished - r.time for r in reqs if r.finished is not None)
        out = {"chat": len(reqs), "rate_limited": server.rate_limited, "max_in_flight": server.max_in_flight,
               "most_in_window": most if span else None, "cpu": time.process_time(),
               "ramp": times[n - 1] - times[0] if 0 < n <= len(times) else None,
               "held": held[len(held) // 2] if held else None,
               "span": max(r.finished or r.time for r in reqs) - times[0] if reqs else None}
    print(json.dumps(out), flush=True)
server.stop()
"""


class Server:
    """The loopback server in a subprocess; `ask` sends one command and reads its JSON answer."""

    def __init__(self, latency: float, limits: dict[str, int] | None = None, window: float = 60.0) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, str(latency), json.dumps(limits or {}),
                                      str(window)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.base_url = self.proc.stdout.readline().strip()  # type: ignore[union-attr]
        if not self.base_url.startswith("http"):
            raise SystemExit(f"loopback server did not start (exit {self.proc.poll()})")

    def ask(self, command: str) -> dict[str, Any]:
        self.proc.stdin.write(command + "\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        return json.loads(self.proc.stdout.readline())  # type: ignore[union-attr]

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_FRAMES = itertools.count()


def frame(rows: int, tag: str = "") -> Any:
    import pandas as pd

    # distinct prompts (map asks equal rows once), new to the checkpoint in every frame (it would answer them)
    n = next(_FRAMES)
    return pd.DataFrame({"q": [f"question {tag}{n}.{i}: what is {i} squared?" for i in range(rows)]})


@dataclass
class Run:
    seconds: float
    cpu: float
    rows: int
    failed: int
    out: Any = None

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def run_map(url: str, df: Any, concurrency: int, **options: Any) -> Run:
    """map as a user runs it (resume=True: each row looked up and claimed in the checkpoint, then saved); the
    prompts are new to the checkpoint, so every row is asked."""
    import kimi_lab

    said = io.StringIO()  # map's one "to ask of" line
    cpu0, t0 = time.process_time(), time.perf_counter()
    with contextlib.redirect_stdout(said):
        out = kimi_lab.map("{q}", df, concurrency=concurrency, base_url=url, max_tokens=MAX_TOKENS,
                           **{"progress": "none", **options})
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    failed = int(out["error"].notna().sum())
    echoed = int(out["answer"].astype(str).str.startswith("Echo: ").sum())
    if len(out) != len(df) or echoed + failed != len(df):
        raise SystemExit(f"kimi_lab.map returned {len(out)} rows for {len(df)}, {echoed} answered, {failed} failed")
    return Run(seconds, cpu, len(df), failed, out)


class Bare:
    """The baseline: `asyncio.gather` over a `Semaphore(concurrency)` and one `openai.AsyncOpenAI`, kept (with
    its connection pool) from the warm-up to the timed run, as kimi_lab keeps its client."""

    def __init__(self, url: str, concurrency: int) -> None:
        import openai

        self.runner = asyncio.Runner()
        self.client = self.runner.run(self._make(openai.AsyncOpenAI, url))
        self.concurrency = concurrency

    @staticmethod
    async def _make(cls: Any, url: str) -> Any:
        return cls(api_key="sk-bench", base_url=url, max_retries=0)

    async def _one(self, gate: asyncio.Semaphore, prompt: str) -> str:
        async with gate:
            stream = await self.client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": prompt}], stream=True, max_tokens=MAX_TOKENS,
                temperature=1.0, stream_options={"include_usage": True})
            parts = []
            async for chunk in stream:
                if chunk.choices:
                    delta = chunk.choices[0].delta
                    text = (delta.model_extra or {}).get("reasoning_content") or delta.content
                    if text:
                        parts.append(text)
            return "".join(parts)

    async def _all(self, prompts: list[str]) -> list[Any]:
        gate = asyncio.Semaphore(self.concurrency)
        return await asyncio.gather(*(self._one(gate, p) for p in prompts), return_exceptions=True)

    def run(self, prompts: list[str]) -> Run:
        cpu0, t0 = time.process_time(), time.perf_counter()
        answers = self.runner.run(self._all(prompts))
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        errors = [a for a in answers if isinstance(a, BaseException)]
        if errors:
            print(f"  bare loop: {len(errors)} requests failed, e.g. {errors[0]!r}")
        failed = sum(1 for a in answers if isinstance(a, BaseException) or "Echo: " not in a)
        return Run(seconds, cpu, len(prompts), failed)

    def close(self) -> None:
        self.runner.run(self.client.close())
        self.runner.close()


class Floor:
    """What the server alone allows: the same requests over raw keep-alive sockets (one a slot, as a client's
    pool keeps them), each answer read to its last chunk and not parsed: a client of almost no CPU. Above
    the ideal, no client reaches the ideal against this server here."""

    def __init__(self, url: str, concurrency: int) -> None:
        from urllib.parse import urlparse

        self.where = urlparse(url)
        self.concurrency = concurrency

    def _request(self, prompt: str) -> bytes:
        body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": prompt}], "stream": True,
                           "max_tokens": MAX_TOKENS, "temperature": 1.0,
                           "stream_options": {"include_usage": True}}).encode()
        return (f"POST {self.where.path.rstrip('/')}/chat/completions HTTP/1.1\r\nHost: {self.where.hostname}\r\n"
                f"Content-Type: application/json\r\nAuthorization: Bearer sk-bench\r\nContent-Length: {len(body)}"
                f"\r\n\r\n").encode() + body

    async def _slot(self, todo: list[bytes], done: list[bool]) -> None:
        reader, writer = await asyncio.open_connection(self.where.hostname, self.where.port)
        try:
            while todo:
                writer.write(todo.pop())
                await writer.drain()
                data = b""
                while not data.endswith(b"\r\n0\r\n\r\n"):  # a chunked body's last chunk
                    more = await reader.read(65536)
                    if not more:
                        break
                    data += more
                done.append(b"data: [DONE]" in data)
        finally:
            writer.close()

    async def _all(self, requests: list[bytes]) -> list[bool]:
        todo, done = list(reversed(requests)), []
        await asyncio.gather(*(self._slot(todo, done) for _ in range(self.concurrency)))
        return done

    def run(self, prompts: list[str]) -> Run:
        requests = [self._request(p) for p in prompts]
        cpu0, t0 = time.process_time(), time.perf_counter()
        done = asyncio.run(self._all(requests))
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        return Run(seconds, cpu, len(prompts), len(prompts) - sum(1 for d in done if d))


def throughput(server: Server, rows: int, latency: float, concurrency: int) -> bool:
    server.ask(f"latency {latency}")
    df = frame(rows)
    prompts = list(df["q"])
    warm = min(rows, 2 * concurrency)
    bare = Bare(server.base_url, concurrency)
    try:
        run_map(server.base_url, frame(warm, "warm "), concurrency)  # imports, connection pools
        bare.run(list(frame(warm, "warm ")["q"]))
        runs = []
        floor = Floor(server.base_url, concurrency)
        for name, go in (("kimi_lab.map", lambda: run_map(server.base_url, df, concurrency)),
                         ("bare AsyncOpenAI", lambda: bare.run(prompts)),
                         ("server floor", lambda: floor.run(prompts))):
            server.ask("clear")
            before = server.ask("stats")
            run = go()
            runs.append((name, run, before, server.ask(f"stats 1 {concurrency}")))
    finally:
        bare.close()
    server.ask("clear")
    ideal = rows * latency / concurrency
    m, b, f = runs[0][1], runs[1][1], runs[2][1]
    print(f"{rows:,} rows, {latency * 1000:g} ms latency, concurrency {concurrency} (server requests: "
          f"map {runs[0][3]['chat']:,}, bare {runs[1][3]['chat']:,}; server's most in flight so far "
          f"{runs[1][3]['max_in_flight']})")
    for name, run, before, after in runs:
        bound = "   CPU-bound: ideal unreachable here" if run.cpu > ideal and run is not f else ""
        print(f"  {name:<18}{run.seconds:8.2f} s {run.rate:9,.0f} rows/s   client CPU {run.cpu / rows * 1000:5.2f} ms"
              f"/request ({run.cpu:6.2f} s), server CPU {(after['cpu'] - before['cpu']) / rows * 1000:4.2f} ms/request"
              f", {run.failed} failed{bound}")
        print(f"  {'':<18}at the server: first {concurrency} requests arrived over {after['ramp']:.2f} s, median "
              f"request held {after['held'] * 1000:.0f} ms, first arrival to last byte {after['span']:.2f} s")
    waves = -(-rows // concurrency) * latency
    print(f"  {'ideal':<18}{ideal:8.2f} s {rows / ideal:9,.0f} rows/s   (rows x latency / concurrency"
          + (f"; whole waves: {waves:.2f} s)" if waves > ideal else ")"))
    print(f"  client CPU per wave of {concurrency} requests: map {m.cpu / rows * concurrency:.2f} s, bare "
          f"{b.cpu / rows * concurrency:.2f} s, beside {latency:g} s of latency (requests started together finish "
          f"together and queue for the client's CPU)")
    ratio_ideal, ratio_bare, floor_ideal = m.seconds / ideal, m.seconds / b.seconds, f.seconds / ideal
    cpu_bound = m.cpu > ideal
    print(f"  map / ideal: {ratio_ideal:.3f}   (target <= 1.15){'  [CPU-bound here]' if cpu_bound else ''}")
    print(f"  map / bare:  {ratio_bare:.3f}   (target <= 1.00: map at least as fast)")
    print(f"  server floor / ideal: {floor_ideal:.3f}" + (
        "   (above 1.15: this server on this machine cannot answer at the ideal rate, whatever the client)"
        if floor_ideal > 1.15 else ""))
    print(f"  map / server floor: {m.seconds / f.seconds:.3f}")
    return ratio_ideal <= 1.15 and ratio_bare <= 1.0 and m.failed == 0 and b.failed == 0 and f.failed == 0


def claims_cost(server: Server, rows: int, latency: float, concurrency: int, rounds: int = 3) -> bool:
    """map with its row claims (resume=True) against without (resume=False), alternating: the median time
    of each; target: claims cost at most 5%."""
    import statistics

    server.ask(f"latency {latency}")
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds):
        for resume in (True, False):
            times[resume].append(run_map(server.base_url, frame(rows, "claims "), concurrency, resume=resume).seconds)
    server.ask("clear")
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print(f"row claims: {rows:,} rows x {latency * 1000:g} ms, concurrency {concurrency}, median of {rounds} "
          f"alternating runs: claimed {on:.2f} s, unclaimed (resume=False) {off:.2f} s")
    print(f"  claims on / off: {on / off:.3f}   (target <= 1.05)")
    return on / off <= 1.05


def rpm_admission(rpm: int, window: float, threads: int) -> bool:
    from kimi_lab.core.admission import Admission

    admission = Admission(threads, rpm=rpm, window=window)
    stop_at = time.monotonic() + window * 1.5

    def hammer() -> None:
        while time.monotonic() < stop_at:
            if admission.acquire():
                admission.release()

    workers = [threading.Thread(target=hammer, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(window * 3)
    times = list(admission.admit_times)
    first = times[0]
    in_window = sum(1 for t in times if t < first + window)
    most, lo = 0, 0
    for hi, t in enumerate(times):  # any half-open window (t - window, t], as a provider's sliding window counts
        while times[lo] <= t - window:
            lo += 1
        most = max(most, hi - lo + 1)
    steady = (len(times) - 1) / (times[-1] - first) * window
    err = in_window / rpm - 1
    print(f"RPM, Admission directly: limit {rpm} per {window:g} s window (rpm scaled down), {threads} threads, "
          f"{window * 1.5:g} s")
    print(f"  admitted in the first window: {in_window} ({err:+.1%})   (target within 5%)")
    print(f"  steady rate: {steady:.1f} per window ({steady / rpm - 1:+.1%}); most in any one window: {most}")
    return abs(err) <= 0.05 and abs(steady / rpm - 1) <= 0.05


def rpm_end_to_end(rpm: int, rows: int, server_window: float, concurrency: int) -> bool:
    # map paces rpm over a real minute; the server limits the same rate over a scaled window
    limit = round(rpm * server_window / 60)
    with Server(0.0, {"rpm": limit}, server_window) as server:
        run = run_map(server.base_url, frame(rows, "rpm "), concurrency, rpm=rpm)
        stats = server.ask(f"stats {server_window}")
    seen = stats["chat"]
    print(f"RPM end to end: kimi_lab.map(rpm={rpm:,}), {rows} rows, concurrency {concurrency}; server limit "
          f"{limit} per {server_window:g} s (the same rate)")
    print(f"  {run.seconds:.1f} s, {rows / run.seconds * 60:,.0f} rows/min; server saw {seen} requests, sent "
          f"{stats['rate_limited']} 429s, most in any {server_window:g} s: {stats['most_in_window']} (limit {limit}); "
          f"{run.failed} failed")
    return stats["rate_limited"] == 0 and stats["most_in_window"] <= limit and run.failed == 0


def memory(server: Server, sizes: tuple[int, int], concurrency: int) -> bool:
    server.ask("latency 0")
    run_map(server.base_url, frame(2 * concurrency, "warm "), concurrency)
    print(f"memory (tracemalloc, latency 0, concurrency {concurrency}): peak traced minus the output frame")
    overheads, totals = [], []
    for rows in sizes:
        df = frame(rows, "mem ")
        server.ask("clear")
        gc.collect()
        tracemalloc.start()
        try:
            run = run_map(server.base_url, df, concurrency)
            _, peak = tracemalloc.get_traced_memory()
            gc.collect()  # what is still held once the cyclic garbage (SDK request objects) is gone
            kept = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        out_bytes = int(run.out.memory_usage(deep=True).sum())
        over = (peak - out_bytes) / rows
        overheads.append(over)
        totals.append(peak - out_bytes)
        print(f"  {rows:>6,} rows: peak {peak / 2**20:7.1f} MiB, frame {out_bytes / 2**20:6.1f} MiB, "
              f"overhead {over / 1024:5.2f} KiB/row; after gc.collect() {(kept - out_bytes) / rows / 1024:5.2f} KiB/row"
              f"  ({run.seconds:.1f} s, {run.failed} failed)")
        del run, df
    ratio = overheads[1] / overheads[0]
    slope = (totals[1] - totals[0]) / (sizes[1] - sizes[0])
    print(f"  overhead per row, {sizes[1]:,} / {sizes[0]:,}: {ratio:.2f}   (target <= 1.20); each added row: "
          f"{slope / 1024:+.2f} KiB beyond the frame")
    cyclic_garbage(server, sizes[0] // 4, concurrency)
    return ratio <= 1.2


def cyclic_garbage(server: Server, rows: int, concurrency: int) -> None:
    """What the peak depends on: bytes left in reference cycles per row, which only the cyclic collector frees
    (it runs when it likes; here it is switched off for one run, then run once)."""
    server.ask("clear")
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        run_map(server.base_url, frame(rows, "cycles "), concurrency)
        held = tracemalloc.get_traced_memory()[0]
        streams = sum(1 for o in gc.get_objects() if type(o).__name__ == "Stream")
        gc.collect()
        freed = held - tracemalloc.get_traced_memory()[0]
        streams -= sum(1 for o in gc.get_objects() if type(o).__name__ == "Stream")
    finally:
        tracemalloc.stop()
        gc.enable()
    print(f"  in reference cycles, freed only by the cyclic collector: {freed / rows / 1024:.2f} KiB/row "
          f"({rows} rows, automatic collection off; SDK `Stream` objects among them: {streams})")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def progress(server: Server, rows: int, latency: float, concurrency: int) -> bool:
    import kimi_lab.render.progress as progress_module

    server.ask(f"latency {latency}")
    original = progress_module.Progress
    bars: list[Any] = []

    class Counting(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.draw_times: list[float] = []
            bars.append(self)
            super().__init__(*args, **kwargs)

        def _draw(self, now: float, message: str = "") -> bool:
            drew = super()._draw(now, message)
            if drew:
                self.draw_times.append(now)
            return drew

    stream = _Tty()
    progress_module.Progress = Counting
    try:
        with contextlib.redirect_stderr(stream):
            run = run_map(server.base_url, frame(rows, "progress "), concurrency, progress="text")
    finally:
        progress_module.Progress = original
    (bar,) = bars
    times = bar.draw_times
    most, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - 1.0:
            lo += 1
        most = max(most, hi - lo + 1)
    rate = bar.redraws / run.seconds
    rewrites = stream.getvalue().count("\r")
    print(f"progress=\"text\" on a terminal: {rows:,} rows at {latency * 1000:g} ms, {run.seconds:.1f} s: "
          f"{bar.redraws} redraws ({rewrites} line rewrites), {rate:.1f}/s, most in any 1 s: {most}   (target <= 10)")
    return rate <= 10 and most <= 10


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the server waits per request")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--slow-rows", type=int, default=384,
                        help="rows of the second, not CPU-bound run (0: skip); a multiple of --concurrency")
    parser.add_argument("--slow-latency", type=float, default=2.0)
    parser.add_argument("--rpm", type=int, default=600, help="Admission's limit per --rpm-window")
    parser.add_argument("--rpm-window", type=float, default=6.0, help="Admission's window, scaled down from 60 s")
    parser.add_argument("--e2e-rpm", type=int, default=600, help="requests/min of the end-to-end map (0: skip)")
    parser.add_argument("--e2e-rows", type=int, default=80)
    parser.add_argument("--memory-rows", type=int, nargs=2, default=[800, 2_400], metavar=("SMALL", "LARGE"))
    parser.add_argument("--progress-rows", type=int, default=1_000)
    parser.add_argument("--claims-rows", type=int, default=2_000, help="rows of the claims on/off runs (0: skip)")
    opts = parser.parse_args()

    scratch = tempfile.TemporaryDirectory(prefix="bench_map-")
    os.environ["KIMI_LAB_TRANSCRIPTS"] = os.path.join(scratch.name, "transcripts.sqlite3")  # map.sqlite3 beside it
    started = time.perf_counter()
    print(f"client pid {os.getpid()}, server in its own process; {os.cpu_count()} cores; max_tokens {MAX_TOKENS}; "
          f"checkpoint in {scratch.name}")
    ok: dict[str, bool] = {}
    with Server(opts.latency) as server:
        ok[f"throughput at {opts.rows:,} rows x {opts.latency * 1000:g} ms"] = throughput(
            server, opts.rows, opts.latency, opts.concurrency)
        if opts.slow_rows:
            ok[f"throughput at {opts.slow_rows:,} rows x {opts.slow_latency * 1000:g} ms"] = throughput(
                server, opts.slow_rows, opts.slow_latency, opts.concurrency)
        if opts.claims_rows:
            ok["row claims"] = claims_cost(server, opts.claims_rows, opts.latency, opts.concurrency)
        ok["RPM accuracy"] = rpm_admission(opts.rpm, opts.rpm_window, opts.concurrency)
        if opts.e2e_rpm:
            ok["RPM end to end"] = rpm_end_to_end(opts.e2e_rpm, opts.e2e_rows, opts.rpm_window, opts.concurrency)
        ok["memory"] = memory(server, tuple(opts.memory_rows), opts.concurrency)
        ok["progress"] = progress(server, opts.progress_rows, opts.latency, opts.concurrency)
    print(f"total {time.perf_counter() - started:.0f} s")
    scratch.cleanup()
    failed = [name for name, passed in ok.items() if not passed]
    print("PASS" if not failed else f"FAIL: {'; '.join(failed)}")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
