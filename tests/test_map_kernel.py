"""`kimi_lab.map` in a real kernel: interrupted halfway or killed outright, the same cell run again asks
only the rows that were not saved, and the result holds every input row exactly once."""

from __future__ import annotations

import collections
import os
import signal
from pathlib import Path
from typing import Iterator

import pytest

from kimi_lab.store.checkpoint import Checkpoint
from kimi_lab.testing import LoopbackServer
from kimi_lab.testing.kernel import Kernel

from .conftest import CANARY_KEY

pytestmark = pytest.mark.kernel

MAP_CELL = """
import pandas as pd, kimi_lab
df = pd.DataFrame({{"text": [f"row {{i}}" for i in range({n})]}}, index=[f"id{{i}}" for i in range({n})])
out = kimi_lab.map("Say {{text}}", df, concurrency=2, progress="text")
print("rows", len(out), "answered", int(out["answer"].notna().sum()), "same index", list(out.index) == list(df.index))
"""


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(api_key=CANARY_KEY, latency=0.05) as srv:
        yield srv


def start(server: LoopbackServer, transcripts: Path) -> Kernel:
    k = Kernel({"KIMI_LAB_BASE_URL": server.base_url, "KIMI_LAB_API_KEY": CANARY_KEY,
                "KIMI_LAB_TRANSCRIPTS": str(transcripts)})
    assert k.run("%load_ext kimi_lab").reply["content"]["status"] == "ok"
    return k


def asked(server: LoopbackServer) -> collections.Counter[str]:
    """How many times each row's prompt was sent."""
    return collections.Counter(r.body["messages"][-1]["content"] for r in server.chat_requests)


def test_an_interrupted_map_keeps_its_rows_and_the_rerun_asks_only_the_rest(server, tmp_path):
    kernel = start(server, tmp_path / "t.sqlite3")
    try:
        ex = kernel.submit(MAP_CELL.format(n=60))
        assert server.wait_for_requests(12, timeout=30)
        kernel.km.interrupt_kernel()
        kernel.collect(ex, timeout=20)
        assert ex.reply["content"]["status"] == "error"
        assert "run the same cell again to ask only the rest" in ex.text() and "Traceback" not in ex.text()
        first = asked(server)
        assert 12 <= sum(first.values()) < 60
        rerun = kernel.run(MAP_CELL.format(n=60), timeout=60)
        assert "rows 60 answered 60 same index True" in rerun.stdout(), rerun.text()
        twice = [p for p, n in asked(server).items() if n > 1]
        assert len(asked(server)) == 60 and len(twice) <= 2, "only the rows in flight at the interrupt are asked again"
    finally:
        kernel.shutdown()


def test_a_killed_kernel_loses_no_saved_row_and_the_rerun_completes_the_job(server, tmp_path):
    transcripts = tmp_path / "t.sqlite3"
    kernel = start(server, transcripts)
    try:
        kernel.submit(MAP_CELL.format(n=80))
        assert server.wait_for_requests(20, timeout=30)
        os.kill(kernel.km.provisioner.process.pid, signal.SIGKILL)  # no cleanup, no flush: a crash
        kernel.km.provisioner.process.wait(10)
    finally:
        kernel.kc.stop_channels()
    with Checkpoint(transcripts.with_name("map.sqlite3")) as store:
        saved = store._db.execute("SELECT prompt FROM rows").fetchall()
    assert len(saved) >= 15, "rows answered before the kill are on disk"
    before = asked(server)
    kernel = start(server, transcripts)
    try:
        rerun = kernel.run(MAP_CELL.format(n=80), timeout=90)
        assert "rows 80 answered 80 same index True" in rerun.stdout(), rerun.text()
    finally:
        kernel.shutdown()
    after = asked(server)
    again = {p for p in after if after[p] > before.get(p, 0) and before.get(p, 0) > 0}
    assert not again & {p for (p,) in saved}, "no saved row was asked (or billed) twice"
    assert len(after) == 80
