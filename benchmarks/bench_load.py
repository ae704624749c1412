"""`%load_ext kimi_lab` cost in a fresh IPython, side by side with `import IPython` alone.

Target: under 50 ms added, and none of openai, pandas, numpy, llama_cpp, huggingface_hub,
ipywidgets (or anywidget) imported. Each sample is a fresh interpreter; the median of the runs is reported.

    .venv/bin/python benchmarks/bench_load.py [--runs 9]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

HEAVY = ("openai", "pandas", "numpy", "llama_cpp", "huggingface_hub", "ipywidgets", "anywidget")

PROBE = f"""
import json, sys, time
t0 = time.perf_counter()
import IPython
from IPython.core.interactiveshell import InteractiveShell
t1 = time.perf_counter()
shell = InteractiveShell.instance()
t2 = time.perf_counter()
shell.run_line_magic("load_ext", "kimi_lab")
t3 = time.perf_counter()
print(json.dumps({{"ipython": t1 - t0, "shell": t2 - t1, "load_ext": t3 - t2,
                  "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""


def sample() -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    samples = [sample() for _ in range(runs)]
    ipython = statistics.median(s["ipython"] for s in samples)
    load = statistics.median(s["load_ext"] for s in samples)
    heavy = sorted({m for s in samples for m in s["heavy"]})
    print(f"runs: {runs} fresh interpreters (median)")
    print(f"import IPython:        {ipython * 1000:7.1f} ms")
    print(f"%load_ext kimi_lab:    {load * 1000:7.1f} ms added")
    print(f"ratio load_ext / import IPython: {load / ipython:.3f}")
    print(f"heavy modules imported: {', '.join(heavy) if heavy else 'none'}")
    ok = load < 0.050 and not heavy
    print("PASS" if ok else "FAIL", "(target: under 50 ms added and no heavy module)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
