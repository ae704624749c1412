"""The checks of the guard table (`test_safe_eval_guards`): each passes with its guard in place and fails with
the guard patched out.

A check targets its own guard: it asserts the guard's own refusal (an UnsafeExpression before the library
runs, or an allocation peak that stays small, seen through tracemalloc and through pyarrow's memory pool),
not merely "something went wrong".
"""

from __future__ import annotations

import ctypes
import functools
import sys
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import kimi_lab.tools.safe_eval as se
from kimi_lab.tools.safe_eval import _estimators, _gate, _guards, _interpreter, _kinds
from kimi_lab.tools.safe_eval._budget import Budget
from kimi_lab.tools.safe_eval._messages import UnsafeExpression

from .hostile_namespace import Canaries

Check = Callable[[Canaries, pytest.MonkeyPatch], None]


@dataclass(frozen=True)
class Guard:
    name: str
    neuter: Callable[[pytest.MonkeyPatch], None]
    check: Callable[[Canaries, pytest.MonkeyPatch], None]


def refused(
    expression: str, budget: int | None = None, **limits: float
) -> Callable[[Canaries, pytest.MonkeyPatch], None]:
    """The guard refuses `expression` itself, and nothing changed."""

    def check(canaries: Canaries, mp: pytest.MonkeyPatch) -> None:
        if budget is not None:
            mp.setattr(se, "MAX_BYTES", budget)
        for name, value in limits.items():
            mp.setattr(se, name, value)
        try:
            shown = se.evaluate_text(expression, canaries.ns)
        except UnsafeExpression:
            shown = ""
        else:
            raise AssertionError(f"not refused: {shown[:100]}")
        assert canaries.intact() == [] and canaries.leaked(shown) == []

    return check


def refused_cheaply(
    expression: str, peak: int = 6_000_000, budget: int | None = None
) -> Callable[[Canaries, pytest.MonkeyPatch], None]:
    """Refused before anything big was built: the allocation peak stays small, as tracemalloc sees it (Python's
    and numpy's allocations) and as pyarrow's memory pool sees it (Arrow buffers), so the guard priced the
    result instead of finding out afterwards."""

    def check(canaries: Canaries, mp: pytest.MonkeyPatch) -> None:
        if budget is not None:
            mp.setattr(se, "MAX_BYTES", budget)

        def run() -> None:
            with pytest.raises(UnsafeExpression):
                se.safe_eval(expression, canaries.ns)

        traced, arrow = peaks(run)
        assert traced < peak, f"{traced:,} bytes were allocated before the refusal"
        assert arrow < peak, f"{arrow:,} bytes of Arrow buffers were allocated before the refusal"

    return check


def small_peak(expression: str, peak: int = 6_000_000, budget: int | None = None) -> Check:
    """Whatever the outcome, no more than `peak` bytes of Python objects were made on the way (reading Arrow
    cells makes a str of each)."""

    def check(canaries: Canaries, mp: pytest.MonkeyPatch) -> None:
        if budget is not None:
            mp.setattr(se, "MAX_BYTES", budget)
        shown: list[str] = []

        def run() -> None:
            try:
                shown.append(se.evaluate_text(expression, canaries.ns))
            except Exception as exc:
                shown.append(str(exc))

        traced, _ = peaks(run)
        assert traced < peak, f"{traced:,} bytes of Python objects were made"
        assert canaries.intact() == [] and canaries.leaked(shown[0]) == []

    return check


_POOLS: list[Any] = []


def peaks(run: Callable[[], None]) -> tuple[int, int]:
    """Run, and return the peak bytes tracemalloc traced and the peak bytes pyarrow allocated meanwhile."""
    pa = sys.modules.get("pyarrow")
    base = pa.default_memory_pool() if pa is not None else None
    pool = pa.proxy_memory_pool(base) if pa is not None else None
    if pool is not None:
        # Buffers allocated through the pool may outlive the run (freed later through it): it must never be freed.
        _POOLS.append(pool)
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(pool))
        pa.set_memory_pool(pool)
    tracemalloc.start()
    try:
        run()
        traced = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        if pool is not None:
            pa.set_memory_pool(base)
    return traced, int(pool.max_memory()) if pool is not None else 0


def refused_while(stage: str, expression: str, budget: int) -> Callable[[Canaries, pytest.MonkeyPatch], None]:
    """Refused at `stage`, on the way, and not only once the whole result exists."""

    def check(canaries: Canaries, mp: pytest.MonkeyPatch) -> None:
        mp.setattr(se, "MAX_BYTES", budget)
        with pytest.raises(UnsafeExpression, match=stage):
            se.safe_eval(expression, canaries.ns)

    return check


def no_effect(expression: str) -> Callable[[Canaries, pytest.MonkeyPatch], None]:
    """Whatever happens to `expression`, nothing changes and nothing leaks."""

    def check(canaries: Canaries, mp: pytest.MonkeyPatch) -> None:
        try:
            shown = se.evaluate_text(expression, canaries.ns)
        except Exception as exc:
            shown = str(exc)
        assert canaries.intact() == [] and canaries.leaked(shown) == []

    return check


RULES_COVERED: set[str] = set()
ESTIMATORS_COVERED: set[str] = set()


def identity_rule(rule: str) -> Callable[[pytest.MonkeyPatch], None]:
    RULES_COVERED.add(rule)
    return lambda mp: mp.setitem(_guards.RULES, rule, lambda name, value: value)


def no_estimate(name: str) -> Callable[[pytest.MonkeyPatch], None]:
    ESTIMATORS_COVERED.add(name)
    return lambda mp: mp.setitem(_estimators.ESTIMATORS, name, lambda call, sizes: 0)


def admit_everything(self: Any, value: Any, label: str = "value") -> Any:
    return value


def read_only_check(canaries: Canaries, mp: pytest.MonkeyPatch) -> None:
    assert not se.safe_eval("arr", canaries.ns).flags.writeable


def admission_check(canaries: Canaries, mp: pytest.MonkeyPatch) -> None:
    gate = _gate.Gate(Budget())
    for value in (open, canaries.recorder, print, canaries.ns["gen"], canaries.ns["gb"], int):
        with pytest.raises(UnsafeExpression):
            gate.admit(value)


def kinds_check(canaries: Canaries, mp: pytest.MonkeyPatch) -> None:
    for value in (open, canaries.recorder, functools.partial(print), lambda: 1):
        assert _kinds.kind_of(value) == "callable"


def forgets_refusals_check(canaries: Canaries, mp: pytest.MonkeyPatch) -> None:
    gate = _gate.Gate(Budget())
    holding = [canaries.ns["lazy"]]
    for _ in range(2):  # the second look must refuse too: nothing was remembered as checked
        with pytest.raises(UnsafeExpression):
            gate.cross(holding)


def stops_after_a_refusal_check(canaries: Canaries, mp: pytest.MonkeyPatch) -> None:
    ip = _interpreter.Interpreter(canaries.ns)
    ip.budget.violation = UnsafeExpression("refused earlier")
    ran: list[int] = []
    with pytest.raises(UnsafeExpression):
        ip.external(lambda: ran.append(1))
    with pytest.raises(UnsafeExpression):
        ip.entering()
    assert ran == []


def render_check(canaries: Canaries, mp: pytest.MonkeyPatch) -> None:
    assert len(se.evaluate_text("[text for _ in range(100)]", canaries.ns)) < 20_000


def split_spy_check(expression: str) -> Check:
    """Refused before pyarrow's regex split runs (a spy stands in for it: the real one would never return)."""

    def check(canaries: Canaries, mp: pytest.MonkeyPatch) -> None:
        compute = pytest.importorskip("pyarrow.compute")
        calls: list[Any] = []

        def spy(*args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            raise RuntimeError("pyarrow's split_pattern_regex would have run")

        mp.setattr(compute, "split_pattern_regex", spy)
        with pytest.raises(UnsafeExpression):
            se.safe_eval(expression, canaries.ns)
        assert calls == []

    return check
