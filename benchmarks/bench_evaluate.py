"""evaluate's own cost: its interpreter beside plain `eval` of the same expressions, on a 10,000,000-row frame.

Each expression runs alternately through Python's `eval` (no checks at all) and through
`kimi_lab.tools.safe_eval.evaluate_text` in process (interpreter, admission and crossing checks, byte
budget, bounded rendering), then through the evaluate tool as the model calls it (on Linux in the forked
sandbox). Prints medians and ratios; the target is what a user waits for, not what eval costs.

    .venv/bin/python benchmarks/bench_evaluate.py [--rows N] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import numpy as np
import pandas as pd
from _timing import timed

from kimi_lab.tools.notebook import evaluate
from kimi_lab.tools.safe_eval import evaluate_text

EXPRESSIONS = [
    'sales.groupby("region")["units"].sum().nlargest(3)',
    "sales.loc[sales.units > 5, 'price'].mean()",
    "(sales.units * sales.price).groupby(sales.region).sum().round(2)",
    "sales.region.value_counts()",
    "sales.head(1000).apply(lambda r: r.units * r.price, axis=1).sum()",
]
TARGET_OVERHEAD = 1.5  # in-process interpreter / plain eval, for the vectorised ones
TARGET_SANDBOX = 0.3  # seconds the Linux sandbox adds to an expression over numeric columns


def frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "region": pd.Series(rng.choice(["north", "south", "east", "west"], rows)).astype("str"),
            "units": rng.integers(1, 10, rows),
            "price": rng.uniform(1, 100, rows).round(2),
            "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), unit="D"),
        }
    )


def seconds(fn: Any) -> float:
    return timed(fn)[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    ns = {"sales": frame(args.rows), "pd": pd, "np": np}
    print(f"frame: {args.rows:,} rows × 4 columns; runs: {args.runs}, median")
    ok = True
    for expression in EXPRESSIONS:
        plain, interpreted, tool = [], [], []
        for _ in range(args.runs):
            plain.append(seconds(lambda e=expression: repr(eval(e, dict(ns)))))
            interpreted.append(seconds(lambda e=expression: evaluate_text(e, ns)))
            tool.append(seconds(lambda e=expression: evaluate(ns, e)))
        p, i, t = (statistics.median(x) for x in (plain, interpreted, tool))
        vectorised = "apply(" not in expression
        numeric = "region" not in expression
        fine = (not vectorised or i / p <= TARGET_OVERHEAD) and (not numeric or t - i <= TARGET_SANDBOX)
        ok &= fine
        print(f"{expression[:62]:<62}  eval {p * 1000:7.1f} ms  interpreter {i * 1000:7.1f} ms "
              f"(×{i / p:4.2f})  tool {t * 1000:7.1f} ms (sandbox +{(t - i) * 1000:6.1f} ms)  "
              f"{'ok' if fine else 'SLOW'}")
    print(f"targets: interpreter ≤ {TARGET_OVERHEAD}× eval when vectorised; sandbox adds ≤ {TARGET_SANDBOX} s over "
          "numeric columns (it also copies the memory pages of every Python object the expression touches, such as "
          "the cells of a text column)")
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
