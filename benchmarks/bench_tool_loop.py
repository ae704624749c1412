"""kimi_lab's own time per tool round over a 300-round loop, in a real kernel.

The loopback server scripts 300 rounds, each a short reasoning and one `evaluate` call on a
DataFrame, then a final answer. Per round, the server's own time (request arrival to last byte
written) is subtracted from the round's wall time (arrival to next arrival): what is left is
kimi_lab's time (reading the stream, the live display, running the tool, building and sending
the next request). Targets: under 5 ms a round on average, and round 300 no slower than 1.5x
round 10 (medians of rounds 5-15 and 290-300, to ride out the noise of a shared machine).
evaluate's Linux sandbox is off here: it adds a fork per call (about 20-40 ms, measured on its own by
bench_evaluate.py and bench_sandbox.py), and this benchmark is about the loop.

    .venv/bin/python benchmarks/bench_tool_loop.py [--rounds 300]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys

from kimi_lab.testing import LoopbackServer, Reply, ToolCall
from kimi_lab.testing.kernel import Kernel

KEY = "sk-bench-0123456789abcdef"
SETUP = """
%load_ext kimi_lab
%config KimiLab.max_tool_rounds = {rounds}
%config KimiLab.display = {display!r}
%config KimiLab.evaluate_sandbox = False
import pandas as pd, numpy as np
sales = pd.DataFrame({{"region": np.tile(["north", "south", "east", "west"], 250), "units": np.arange(1000)}})
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--display", default="html", help="live view in the kernel: html (default) or none")
    opts = parser.parse_args()
    rounds = opts.rounds
    # A cheap expression: the benchmark is about kimi_lab's overhead, not pandas' speed.
    expression = json.dumps({"expression": "len(sales)"})
    with LoopbackServer(api_key=KEY) as server:
        kernel = Kernel({"KIMI_LAB_BASE_URL": server.base_url, "KIMI_LAB_API_KEY": KEY})
        try:
            kernel.run(SETUP.format(rounds=rounds, display=opts.display))
            server.script(Reply(content="warm"))
            kernel.run("%kimi --new warm up")  # imports and connection pool
            server.clear()
            server.script(*[Reply(reasoning=f"Step {i}: check the data again.", chunk_chars=16,
                                  tool_calls=[ToolCall("evaluate", expression)]) for i in range(rounds)],
                          Reply(reasoning="Done.", content="west sells the most."))
            ex = kernel.run("%%kimi --new\nWhich region sells most? Check many times.", timeout=600)
            if ex.reply["content"]["status"] != "ok":
                raise SystemExit(ex.text()[-2000:])
        finally:
            kernel.shutdown()
    reqs = server.chat_requests
    if len(reqs) != rounds + 1:
        raise SystemExit(f"expected {rounds + 1} requests, got {len(reqs)}")
    own = [(b.time - a.time) - (a.finished - a.time) for a, b in itertools.pairwise(reqs)]
    served = [a.finished - a.time for a in reqs]
    early = statistics.median(own[4:15])
    late = statistics.median(own[-11:])
    mean = statistics.mean(own)
    print(f"rounds: {rounds} tool rounds + final answer, one real kernel, live view: {opts.display}")
    print(f"kimi_lab per round: mean {mean * 1000:.2f} ms, median {statistics.median(own) * 1000:.2f} ms"
          f"   (target mean < 5 ms)")
    print(f"server per round:   mean {statistics.mean(served) * 1000:.2f} ms (excluded)")
    print(f"round ~10: {early * 1000:.2f} ms, round ~300: {late * 1000:.2f} ms, "
          f"ratio {late / early:.2f}   (target <= 1.5)")
    ok = mean < 0.005 and late / early <= 1.5
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
