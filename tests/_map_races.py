"""Helpers for the tests of map's races: several kernels (threads with checkpoints of their own, or processes)
on one checkpoint, and a batch polled fast but never forever."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from kimi_lab.services.mapping import provider_batch
from kimi_lab.store.checkpoint import Checkpoint


def all_started(monkeypatch: pytest.MonkeyPatch, n: int, method: str = "answered") -> None:
    """n kernels started together: each has read the checkpoint (`method`) before any goes on (a later read,
    such as a look at whether another has finished, goes straight through)."""
    real = getattr(Checkpoint, method)
    barrier = threading.Barrier(n, timeout=15.0)
    first = threading.local()

    def read_then_wait(self: Checkpoint, *args: Any) -> Any:
        found = real(self, *args)
        if not getattr(first, "done", False):
            first.done = True
            barrier.wait()
        return found

    monkeypatch.setattr(Checkpoint, method, read_then_wait)


def on_first_read(monkeypatch: pytest.MonkeyPatch, then: Callable[[Checkpoint, list[str]], None]) -> None:
    """`then(checkpoint, keys)` runs when a job has read which rows are answered, before it claims any."""
    real = Checkpoint.answered

    def answered(self: Checkpoint, keys: Any) -> Any:
        keys = list(keys)
        found = real(self, keys)
        then(self, list(dict.fromkeys(keys)))
        return found

    monkeypatch.setattr(Checkpoint, "answered", answered)


def fast_batch_polls(monkeypatch: pytest.MonkeyPatch, poll: float, most: int) -> None:
    """Batches polled every `poll` seconds, at most `most` times: one that never ends fails the test, it does
    not hang it."""
    monkeypatch.setitem(provider_batch.run_batch.__kwdefaults__, "poll", poll)
    polls: list[float] = []

    def pause(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) > most:
            raise AssertionError(f"still polling after {most} polls")
        threading.Event().wait(seconds)

    monkeypatch.setattr(provider_batch, "_pause", pause)
