"""Two kernels, one checkpoint: each row is paid for once. A job claims a row before asking it; a row another
live job is asking is waited for and its answer used; a claim of a process that is gone (killed, a zombie, a
reused pid) or of a job that stopped renewing is taken over. Each test fails with its guard removed."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import kimi_lab
from kimi_lab.common.errors import KimiInterrupted
from kimi_lab.services.mapping import claims as claims_module
from kimi_lab.services.mapping import job as job_module
from kimi_lab.store.checkpoint import Checkpoint, RowRecord
from kimi_lab.store.claims import Holder, Owner, alive
from kimi_lab.store.sqlite import TranscriptStore

from ._map_elsewhere import map_in_processes
from ._map_races import on_first_read
from .conftest import CANARY_KEY

FREE = {"provider": "custom", "progress": "none", "namespace": {}}
ROOT = Path(__file__).parent.parent


@pytest.fixture(autouse=True)
def own_checkpoint(kimi: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KIMI_LAB_API_KEY", CANARY_KEY)
    monkeypatch.setenv("KIMI_LAB_TRANSCRIPTS", str(tmp_path / "transcripts.sqlite3"))


def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"text": [f"ticket number {i}" for i in range(n)]})


def chats(kimi: Any) -> int:
    return len(kimi.server.chat_requests)


def in_background(call: Any) -> tuple[threading.Thread, dict[str, Any]]:
    done: dict[str, Any] = {}

    def go() -> None:
        try:
            done["out"] = call()
        except BaseException as exc:
            done["out"] = exc

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread, done


def elsewhere(*args: str) -> subprocess.Popen[str]:
    """A process of its own running tests/_map_elsewhere.py (another kernel on the same checkpoint)."""
    return subprocess.Popen([sys.executable, "-m", "tests._map_elsewhere", *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)


@pytest.mark.parametrize("server", [{"latency": 0.3}], indirect=True)
def test_two_processes_mapping_the_same_frame_at_once_ask_each_row_once(kimi):
    got = map_in_processes(kimi.server.base_url, 2, 8)
    expected = [f"Echo: Classify: ticket number {i}" for i in range(8)]
    assert got == [expected, expected], "both kernels have every row"
    assert chats(kimi) == 8, f"{chats(kimi)} requests for 8 rows asked by two kernels at once"


def test_rows_another_job_is_asking_are_waited_for_and_its_answers_used(kimi, monkeypatch, capfd):
    other = Owner()  # another job in this very process: alive
    started = threading.Event()
    real_busy = job_module.Job._busy

    def busy(self: Any, holder: Holder) -> None:
        real_busy(self, holder)
        started.set()

    monkeypatch.setattr(job_module.Job, "_busy", busy)
    taken: list[str] = []

    def claim_all(checkpoint: Checkpoint, keys: list[str]) -> None:
        assert all(v is None for v in checkpoint.claim_many(keys, other, 30.0).values())
        taken.extend(keys)

    on_first_read(monkeypatch, claim_all)
    thread, done = in_background(lambda: kimi_lab.map("Classify: {text}", frame(4), concurrency=2, **FREE))
    assert started.wait(15), "the job waits for the rows the other job holds"
    assert chats(kimi) == 0, "nothing asked while the other job asks"
    with Checkpoint() as store:  # the other job answers two rows, and gives up the other two unanswered
        for key in taken[:2]:
            store.save(RowRecord(key, "m", "p", f"answered elsewhere {key[:6]}", "", None, None, 3, 4, None))
        for key in taken[2:]:
            store.release(other, key)
    thread.join(30)
    out = done["out"]
    assert isinstance(out, pd.DataFrame), out
    assert list(out["answer"][:2]) == [f"answered elsewhere {k[:6]}" for k in taken[:2]]
    assert list(out["answer"][2:]) == ["Echo: Classify: ticket number 2", "Echo: Classify: ticket number 3"]
    assert chats(kimi) == 2, "only the rows the other job gave up are asked"
    assert "being asked by another job in this kernel right now" in capfd.readouterr().out


@pytest.mark.parametrize("how", ["killed and reaped", "killed, a zombie"])
def test_rows_claimed_by_a_killed_kernel_are_taken_over_at_once(kimi, monkeypatch, how):
    """The killed process's claims run 30 s more; they must not be waited for."""
    children: list[subprocess.Popen[str]] = []

    def claim_in_a_child_then_kill_it(checkpoint: Checkpoint, keys: list[str]) -> None:
        child = elsewhere("claim")
        children.append(child)
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(f"{checkpoint.path} {' '.join(keys)}\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "claimed"
        child.kill()
        if how == "killed and reaped":
            child.wait(10)
        else:  # not waited for: the pid still exists, as a zombie, until its parent reaps it
            deadline = time.monotonic() + 10
            while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                assert time.monotonic() < deadline, "the child did not die"
                threading.Event().wait(0.01)

    on_first_read(monkeypatch, claim_in_a_child_then_kill_it)
    began = time.monotonic()
    try:
        out = kimi_lab.map("Classify: {text}", frame(3), concurrency=3, **FREE)
    finally:
        for child in children:
            child.kill()
            child.wait(10)
    assert time.monotonic() - began < 10, "the dead process's claims were waited for"
    assert out["answer"].notna().all() and chats(kimi) == 3


def test_a_process_is_alive_only_if_it_is_the_one_that_claimed(tmp_path):
    here = Owner()
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        theirs = Owner(pid=child.pid, started=claims_started(child.pid))
        assert theirs.started, "Linux names a process's start time"
        assert alive(here.host, child.pid, theirs.started, here), "a live process"
        assert not alive(here.host, child.pid, str(int(theirs.started) + 1), here), "its pid reused by another"
        assert alive("another-host", 999_999_999, "", here), "another host's process cannot be asked"
    finally:
        child.kill()
        child.wait(10)
    assert not alive(here.host, child.pid, theirs.started, here), "a process that ended"
    with Checkpoint(tmp_path / "m.sqlite3") as store:
        far = Owner(host="another-host", pid=4242, started="1")
        assert store.claim_many(["k"], far, 30.0)["k"] is None
        assert isinstance(store.claim("k", here, 30.0), Holder), "another host's claim holds until its lease ends"
        store.claim_many(["j"], far, -1.0)  # a lease already over
        assert store.claim("j", here, 30.0) is None, "a lapsed lease is taken over"


def test_a_claim_from_before_a_reboot_of_this_machine_is_taken_over_at_once(tmp_path):
    """No process outlives a reboot, whatever its pid looks like now (this very process's pid here)."""
    here = Owner()
    assert here.boot, "Linux names its boot"
    with Checkpoint(tmp_path / "m.sqlite3") as store:
        before_reboot = Owner(boot="an-earlier-boot", pid=here.pid, started=here.started)
        assert store.claim("k", before_reboot, 30.0) is None
        assert store.claim("k", here, 30.0) is None, "held by a process of an earlier boot"
        elsewhere = Owner(host="another-host", boot="its-boot")
        assert store.claim("j", elsewhere, 30.0) is None
        assert isinstance(store.claim("j", here, 30.0), Holder), "another machine's claim holds for its lease"


def test_a_damaged_saved_answer_is_asked_again_not_a_traceback(kimi, tmp_path, capfd):
    kimi_lab.map("Classify: {text}", frame(3), **FREE)
    with Checkpoint(tmp_path / "map.sqlite3") as store:
        store._db.execute("UPDATE rows SET data='{not json' WHERE prompt LIKE '%number 1'")
    asked = chats(kimi)
    out = kimi_lab.map("Classify: {text}", frame(3), **FREE)
    assert list(out["answer"]) == [f"Echo: Classify: ticket number {i}" for i in range(3)]
    assert chats(kimi) - asked == 1, "only the damaged row is asked again"
    assert "Traceback" not in capfd.readouterr().err


def claims_started(pid: int) -> str:
    from kimi_lab.store.claims import _started

    return _started(pid)


@pytest.mark.parametrize("server", [{"latency": 2.0}], indirect=True)
def test_a_row_slower_than_the_lease_keeps_its_claim_while_its_job_runs(kimi, monkeypatch):
    monkeypatch.setattr(claims_module, "LEASE", 0.6)
    monkeypatch.setattr(claims_module, "RENEW", 0.1)
    first_asked = threading.Event()
    real_ask = job_module.Job._ask

    def ask(self: Any, position: int) -> Any:
        first_asked.set()
        return real_ask(self, position)

    monkeypatch.setattr(job_module.Job, "_ask", ask)
    a, done_a = in_background(lambda: kimi_lab.map("Classify: {text}", frame(1), **FREE))
    assert first_asked.wait(15)
    b, done_b = in_background(lambda: kimi_lab.map("Classify: {text}", frame(1), **FREE))
    a.join(30)
    b.join(30)
    assert all(isinstance(d.get("out"), pd.DataFrame) for d in (done_a, done_b)), (done_a, done_b)
    assert chats(kimi) == 1, "the second job took over a claim its owner was renewing"
    assert done_b["out"]["answer"][0] == "Echo: Classify: ticket number 0"


def test_an_interrupted_job_frees_its_rows_at_once(kimi, monkeypatch, tmp_path):
    from kimi_lab.render import progress

    real = progress.Progress.update

    def interrupt_after_two(self: Any, **counts: Any) -> None:
        if counts["done"] >= 2:
            raise KeyboardInterrupt
        real(self, **counts)

    monkeypatch.setattr(progress.Progress, "update", interrupt_after_two)
    with pytest.raises(KimiInterrupted):
        kimi_lab.map("Classify: {text}", frame(12), concurrency=2, **FREE)
    left = claims_left(tmp_path)
    assert left == 0, f"{left} rows still claimed by a job that ended: the next run would wait for them"


def claims_left(tmp_path: Path) -> int:
    with Checkpoint(tmp_path / "map.sqlite3") as store:
        return store._db.execute("SELECT count(*) FROM claims").fetchone()[0]


def test_rows_claimed_but_never_asked_are_freed_when_max_cost_stops_the_job(kimi, tmp_path):
    """Rows are claimed a chunk (the concurrency) at a time; max_cost stops the job with some of them unasked."""
    paid = {"progress": "none", "rpm": 0, "tpm": 0, "confirm": False, "namespace": {}}
    one_row = kimi_lab.map("Price: {text}", frame(1), **paid)["cost"].iloc[0]
    out = kimi_lab.map("Classify: {text}", frame(8), concurrency=4, max_cost=one_row * 1.5, **paid)
    assert out["error"].str.startswith("not asked: max_cost", na=False).any(), "the cap stopped the job"
    assert claims_left(tmp_path) == 0, "rows the job claimed and never asked stay claimed: another kernel waits"


def test_kernels_opening_a_new_checkpoint_or_transcripts_file_at_once_all_open(tmp_path):
    """Switching a new file to WAL needs it alone; the loser used to fail at once with "database is locked"."""
    failures: list[str] = []
    for trial in range(40):
        for kind, opener in (("map", Checkpoint), ("transcripts", TranscriptStore)):
            path = tmp_path / f"{kind}-{trial}.sqlite3"
            barrier = threading.Barrier(4, timeout=10)

            def open_it(opener: Any = opener, path: Path = path, barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                try:
                    opener(path).close()
                except Exception as exc:
                    failures.append(f"{type(exc).__name__}: {exc}"[:200])

            threads = [threading.Thread(target=open_it) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
    assert not failures, failures[:3]
