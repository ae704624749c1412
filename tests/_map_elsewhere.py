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


def map_in_processes(base_url: str, kernels: int, rows: int) -> list[list[str]]:
    """`kernels` processes map the same frame of `rows` rows at once (each loaded first, then all started):
    each one's answers."""
    import json
    import subprocess
    from pathlib import Path

    procs = [subprocess.Popen([sys.executable, "-m", "tests._map_elsewhere", "map", base_url, str(rows)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              cwd=Path(__file__).parent.parent) for _ in range(kernels)]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        return [json.loads(p.communicate(timeout=90)[0].splitlines()[-1]) for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait(10)


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
