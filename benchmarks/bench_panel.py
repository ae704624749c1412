"""The chat panel's kernel-side cost: time spent applying events and updating widgets, as a
share of the stream's duration, in a real kernel, for a 20,000-token answer.

Measured inside the kernel by timing the panel's message handler (event application, live-view
rendering and the widget state updates it sends), beside the stream's wall time from Send to the
final answer. Run at full loopback speed and paced (~2,000 tokens/s). Target: under 5%.

    .venv/bin/python benchmarks/bench_panel.py
"""

from __future__ import annotations

import sys

from kimi_lab.testing import LoopbackServer, Reply
from kimi_lab.testing.kernel import Kernel

KEY = "sk-bench-0123456789abcdef"
SETUP = """
import time, kimi_lab
from kimi_lab.faces.widget import panel as P
spent = [0.0]
_receive = P.ChatPanel._receive
def _timed(self, message):
    t = time.perf_counter()
    _receive(self, message)
    spent[0] += time.perf_counter() - t
P.ChatPanel._receive = _timed
"""
RUN = """
spent[0] = 0.0
p = kimi_lab.chat({chat!r}, tools="none")
t0 = time.perf_counter()
p.send("go")
assert p.wait(600)
total = time.perf_counter() - t0
print("RESULT", total, spent[0], p.turn.redraws)
"""


def reply(delay: float) -> Reply:
    return Reply(reasoning="r" * 16_000, content="a" * 64_000, chunk_chars=4, delay=delay)


def main() -> int:
    rows = []
    with LoopbackServer(api_key=KEY) as server:
        kernel = Kernel({"KIMI_LAB_BASE_URL": server.base_url, "KIMI_LAB_API_KEY": KEY,
                         "KIMI_LAB_TRANSCRIPTS": "/tmp/kimi_lab-bench-transcripts.sqlite3"})
        try:
            kernel.run("%load_ext kimi_lab")
            kernel.run(SETUP)
            for label, delay in (("full speed", 0.0), ("paced ~2,000 tok/s", 0.0005)):
                server.script(reply(delay))
                ex = kernel.run(RUN.format(chat=label), timeout=600)
                out = ex.text()
                if "RESULT" not in out:
                    raise SystemExit(out[-2000:])
                total, spent, redraws = (float(x) for x in out.split("RESULT", 1)[1].split()[:3])
                rows.append((label, total, spent, int(redraws)))
        finally:
            kernel.shutdown()
    print("20,000-token answer into kimi_lab.chat() in a real kernel")
    ok = True
    for label, total, spent, redraws in rows:
        share = spent / total
        ok = ok and share < 0.05
        print(f"{label:20s} stream {total:6.2f} s, panel updates {spent * 1000:7.1f} ms ({share:5.1%}), "
              f"{redraws} redraws ({redraws / total:.1f}/s)   (target < 5%)")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
