"""`describe_variable` and `list_variables` on a 10,000,000-row, 20-column DataFrame, side by side with
pandas' own full-scan `df.describe()` in the same run.

The frame (seeded) mixes float, int, nullable Int64, bool, object strings, mixed-type objects, pandas
`str`, category, datetime (with NaT), timedelta and columns with nulls. Building it takes a few seconds
and is not timed. Runs of describe_variable and df.describe() alternate so machine noise hits both;
medians are reported. Target: describe_variable under 1 s and its output under 2,000 tokens (chars/4).

    .venv/bin/python benchmarks/bench_describe.py [--rows 10000000] [--runs 5] [--show]
"""

from __future__ import annotations

import argparse
import statistics
import sys

import numpy as np
import pandas as pd
from _timing import timed

from kimi_lab.tools.inspect_vars import describe_variable, list_variables

BUDGET_TOKENS = 2_000
TARGET_SECONDS = 1.0
CITIES = np.array([f"city_{i:02d}" for i in range(50)], dtype=object)
NAMES = np.array([f"customer {i}" for i in range(1_000)], dtype=object)


def build_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """Twenty columns of the kinds a notebook frame really holds, some with nulls."""
    rng = np.random.default_rng(seed)
    with_nans = rng.normal(50, 10, rows)
    with_nans[rng.random(rows) < 0.05] = np.nan
    when = pd.to_datetime(1_600_000_000 + rng.integers(0, 10**8, rows), unit="s")
    created = when.to_numpy().copy()
    created[rng.random(rows) < 0.02] = np.datetime64("NaT")
    note = CITIES[rng.integers(0, 50, rows)].copy()
    note[rng.random(rows) < 0.1] = None
    mixed = np.where(rng.random(rows) < 0.9, CITIES[rng.integers(0, 50, rows)], None).astype(object)
    mixed[::1_000] = 7  # a few ints among the strings
    qty = pd.array(rng.integers(0, 100, rows), dtype="Int64")
    qty[rng.random(rows) < 0.03] = pd.NA
    return pd.DataFrame({
        "price": rng.lognormal(3, 1, rows),
        "score": rng.random(rows),
        "temperature": with_nans,
        "ratio": rng.normal(0, 1, rows).astype("float32"),
        "units": rng.integers(1, 20, rows),
        "order_id": np.arange(rows, dtype=np.int64),
        "rating": rng.integers(0, 6, rows).astype("int8"),
        "qty": qty,
        "city": CITIES[rng.integers(0, 50, rows)],
        "note": note,
        "mixed": mixed,
        "customer": pd.Series(NAMES[rng.integers(0, 1_000, rows)], dtype="str"),
        "region": pd.Categorical.from_codes(rng.integers(0, 8, rows), [f"R{i}" for i in range(8)]),
        "grade": pd.Categorical.from_codes(rng.integers(-1, 5, rows), list("ABCDE")),  # -1 = null
        "when": when,
        "created": created,
        "wait": pd.to_timedelta(rng.integers(0, 86_400, rows), unit="s"),
        "flag": rng.random(rows) < 0.3,
        "big": rng.integers(-(10**12), 10**12, rows),
        "share": rng.beta(2, 5, rows),
    })



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--show", action="store_true", help="print the description itself")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    t_build, df = timed(lambda: build_frame(args.rows))
    ns = {"df": df}
    describe_times, pandas_times, list_times = [], [], []
    out = ""
    for _ in range(args.runs):
        t, out = timed(lambda: describe_variable(ns, "df", budget_tokens=BUDGET_TOKENS))
        describe_times.append(t)
        t, baseline = timed(df.describe)
        pandas_times.append(t)
        list_times.append(timed(lambda: list_variables(ns))[0])
    ours, theirs, listing = (statistics.median(x) for x in (describe_times, pandas_times, list_times))
    tokens = len(out) / 4
    scanned = len(baseline.columns)

    print(f"frame: {df.shape[0]:,} rows × {df.shape[1]} columns, "
          f"{df.memory_usage(deep=False).sum() / 2**20:,.0f} MiB shallow, built in {t_build:.1f} s (not timed)")
    print(f"runs: {args.runs}, median")
    print(f"describe_variable:  {ours * 1000:8.1f} ms   output {len(out):,} chars ≈ {tokens:,.0f} tokens")
    print(f"df.describe():      {theirs * 1000:8.1f} ms   "
          f"(pandas, full scan of its {scanned} numeric, datetime and timedelta columns)")
    print(f"ratio describe_variable / df.describe(): {ours / theirs:.3f}")
    print(f"list_variables:     {listing * 1000:8.1f} ms")
    print(f"says it sampled: {'yes' if 'sample' in out else 'no'}")
    if args.show:
        print("-" * 100, out, "-" * 100, sep="\n")
    ok = ours < TARGET_SECONDS and tokens <= BUDGET_TOKENS
    print("PASS" if ok else "FAIL", f"(target: describe_variable under {TARGET_SECONDS:.0f} s and "
          f"under {BUDGET_TOKENS:,} tokens)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
