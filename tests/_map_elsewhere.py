"""What another kernel does to a shared map checkpoint, run in a process of its own (kept light: a spawned
process imports this module, not the test suite)."""

from __future__ import annotations

import sys


def map_frame(base_url: str, n: int) -> None:
    """Another kernel maps the same frame: it says "ready", starts on "go" (the test starts two at once),
    and prints its answers as JSON."""
    import json

    import pandas as pd

    import kimi_lab

    df = pd.DataFrame({"text": [f"ticket number {i}" for i in range(n)]})
    print("ready", flush=True)
    sys.stdin.readline()
    out = kimi_lab.map("Classify: {text}", df, provider="custom", base_url=base_url, concurrency=2,
                       progress="none", namespace={})
    print(json.dumps(list(out["answer"])), flush=True)


def claim_and_wait() -> None:
    """Claim the keys given on stdin's first line (for 30 s), say so, then wait to be killed."""
    from kimi_lab.store.checkpoint import Checkpoint
    from kimi_lab.store.claims import Owner

    path, *keys = sys.stdin.readline().split()
    checkpoint = Checkpoint(path)
    got = checkpoint.claim_many(keys, Owner(), 30.0)
    print("claimed" if all(v is None for v in got.values()) else "refused", flush=True)
    sys.stdin.readline()  # never comes: the test kills this process


if __name__ == "__main__":
    if sys.argv[1:2] == ["map"]:
        map_frame(sys.argv[2], int(sys.argv[3]))
    else:
        claim_and_wait()
