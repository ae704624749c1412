"""Per-session usage and cost, by provider and model."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kimi_lab.common.events import TokenUsage
from kimi_lab.common.result import Result

if TYPE_CHECKING:
    from kimi_lab.settings.providers import Price

__all__ = ["Ledger", "LedgerRow"]


@dataclass
class LedgerRow:
    requests: int = 0
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost: float = 0.0
    cost_known: bool = True
    #: Dollars the provider's prompt cache saved: cached tokens at the input price less the cache-read price.
    saved: float = 0.0
    price: Price | None = None  # the latest price this row was billed at (input vs cache read, for the report)


class Ledger:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], LedgerRow] = {}
        self._lock = threading.Lock()

    def record(self, result: Result, price: Price | None = None) -> None:
        with self._lock:
            row = self.rows.setdefault((result.provider, result.model), LedgerRow())
            row.requests += 1
            row.usage = row.usage + result.usage
            if price is not None:
                row.price = price
                u = result.usage
                row.saved += price.cost(u.prompt, u.completion, 0) - price.cost(u.prompt, u.completion, u.cached)
            if result.cost is not None:
                row.cost += result.cost
            elif result.usage.total or result.content or result.reasoning:
                row.cost_known = False  # something came back, at a price nobody told us (nothing came: $0)

    def total(self) -> LedgerRow:
        out = LedgerRow()
        for row in self.rows.values():
            out.requests += row.requests
            out.usage = out.usage + row.usage
            out.cost += row.cost
            out.cost_known = out.cost_known and row.cost_known
            out.saved += row.saved
        return out

    def clear(self) -> None:
        with self._lock:
            self.rows.clear()

