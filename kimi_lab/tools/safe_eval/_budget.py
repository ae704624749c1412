"""What one evaluation may cost: evaluation steps, iterations and bytes, and the first limit it broke.

Every guard fails through `Budget.fail`, which remembers the error: library code that catches it
(pandas trying a function one way, then another) still cannot hand back a result, because the
interpreter raises the remembered error again as soon as the library call returns.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any, NoReturn

from kimi_lab.tools.safe_eval import _limits
from kimi_lab.tools.safe_eval._messages import UnsafeExpression, limit_message, memory_message


class Budget:
    """Running costs of one evaluation. Bytes are charged for every value it makes (`charge`) and
    checked, without charging, for temporary allocations that library code frees again (`peak`)."""

    def __init__(self) -> None:
        self.deadline = time.monotonic() + _limits.MAX_SECONDS
        self.steps = 0
        self.iterations = 0
        self.spent = 0
        self.limit = _limits.max_bytes()
        self.violation: UnsafeExpression | None = None

    def fail(self, message: str) -> NoReturn:
        """Raise, and remember: a library that swallows the error still cannot return a result."""
        error = UnsafeExpression(message)
        if self.violation is None:
            self.violation = error
        raise error

    def step(self, cost: int = 1) -> None:
        self.steps += cost
        if self.steps & 0x3FF < cost:  # the clock, every ~1,000 steps
            self._check_clock()
        if self.steps > _limits.MAX_STEPS:
            self.fail(
                f"the expression needs more than {_limits.MAX_STEPS:,} evaluation steps; use vectorised pandas/numpy "
                "operations instead of large comprehensions or lambdas"
            )

    def _check_clock(self) -> None:
        if time.monotonic() > self.deadline:
            self.fail(
                f"the expression ran for more than {_limits.MAX_SECONDS:g} s; use vectorised pandas/numpy operations "
                "or a smaller part of the data"
            )

    def tick(self) -> None:
        self.iterations += 1
        if self.iterations > _limits.MAX_ITEMS:
            self.fail(limit_message("iterating", self.iterations, _limits.MAX_ITEMS))

    def charge(self, amount: int, what: str = "the values built by this expression") -> None:
        """Small amounts add up like big ones: 300,000 strings of 4 kB are as big as one of 1.2 GB."""
        if self.spent + amount > self.limit:
            self.fail(memory_message(what, self.spent + amount, self.limit))
        self.spent += amount

    def peak(self, amount: int, what: str) -> None:
        if amount >= _limits.SMALL_BYTES and self.spent + amount > self.limit:
            self.fail(memory_message(what, self.spent + amount, self.limit))

    def counting(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            self.tick()
            yield item
