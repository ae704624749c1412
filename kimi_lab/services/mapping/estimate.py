"""What a map job will take before it starts: rows to ask, input tokens, a cost range and the time at
the admitted rate. `dry_run=True` shows this and sends nothing; a paid job above
`KimiLab.map_confirm_cost` asks before it starts."""

from __future__ import annotations

from dataclasses import dataclass

from kimi_lab.common.errors import KimiConfigError
from kimi_lab.services.mapping.plan import Limits, MapPlan

__all__ = ["ROW_SECONDS", "Estimate", "confirm_start", "estimate_job"]

#: Output tokens a row is assumed to use at the low end (none: the input alone, a true floor) and typically
#: (a short label after a few sentences of reasoning); the high end is every row using its whole max_tokens.
LOW_OUTPUT, TYPICAL_OUTPUT = 0, 1_000
#: Seconds one answer is assumed to take when timing a job (a reasoning model's short answer).
ROW_SECONDS = 20.0


@dataclass(frozen=True)
class Estimate:
    provider: str
    model: str
    rows: int
    to_ask: int  # distinct requests not answered before (equal rows are asked once)
    answered: int  # rows the checkpoint already holds
    input_tokens: int
    max_tokens: int
    low: float | None  # dollars; None when the provider's price is unknown
    typical: float | None
    high: float | None
    per_minute: float  # requests admitted per minute at most
    limits: Limits
    free: bool = False  # a server of one's own or a local model: nothing is billed

    @property
    def minutes(self) -> float:
        return self.to_ask / self.per_minute if self.per_minute else 0.0

    def lines(self) -> list[str]:
        money = ("nothing billed (your own server or a local model)" if self.free else
                 "cost unknown (no price for this provider)" if self.low is None else
                 f"${self.low:,.4f} to ${self.high:,.2f}, about ${self.typical:,.4f} if answers average "
                 f"{TYPICAL_OUTPUT:,} output tokens (low: the input alone; high: every row uses max_tokens "
                 f"{self.max_tokens:,})")
        return [
            f"kimi_lab.map on {self.provider} · {self.model}",
            f"rows: {self.rows:,}; to ask: {self.to_ask:,}; already answered (checkpoint): {self.answered:,}",
            f"input: about {self.input_tokens:,} tokens (estimated at 4 characters a token)",
            f"cost: {money}",
            f"admission: {self.limits.describe()}",
            f"time: at most {self.per_minute:,.1f} requests/min, about {_duration(self.minutes)} "
            f"(assuming {ROW_SECONDS:g} s per answer)",
        ]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        import html

        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines()[1:])
        head = html.escape(self.lines()[0])
        body = f"<div><b>{head}</b> (dry run: nothing sent)<ul>{items}</ul></div>"
        return {"text/plain": str(self), "text/html": body}


def _duration(minutes: float) -> str:
    if minutes < 1:
        return f"{minutes * 60:.0f} s"
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"


def estimate_job(plan: MapPlan, prompts: list[str], rows: int, answered: int) -> Estimate:
    """`prompts`: one per distinct request still to ask."""
    tokens = sum(plan.input_tokens(p) for p in prompts)
    max_tokens = plan.spec.request.max_tokens
    price = plan.target.provider.price
    n = len(prompts)

    def cost(output: int) -> float | None:
        return None if price is None else price.cost(tokens, output * n, 0)

    lim = plan.limits
    rates = [lim.concurrency * 60.0 / ROW_SECONDS]
    if lim.rpm:
        rates.append(lim.rpm)
    if lim.tpm and n:
        rates.append(lim.tpm / max(1.0, tokens / n + max_tokens))
    return Estimate(plan.target.provider.name, plan.target.model, rows, n, answered, tokens, max_tokens,
                    cost(min(LOW_OUTPUT, max_tokens)), cost(min(TYPICAL_OUTPUT, max_tokens)), cost(max_tokens),
                    min(rates), lim, plan.free)


def confirm_start(est: Estimate, threshold: float, max_cost: float | None) -> None:
    """Refuse a cap the estimate already passes; ask before a paid job above `threshold` (no cap given).
    Without a way to ask (no stdin), stop and say how to go on."""
    if max_cost is not None and est.low is not None and est.low > max_cost:
        raise KimiConfigError(
            f"even the low estimate (${est.low:,.4f} for {est.to_ask:,} rows) is above max_cost ${max_cost:,.2f}: "
            f"raise max_cost, or map fewer rows (e.g. df.head(100))"
        )
    if max_cost is not None or est.to_ask == 0 or (est.typical is not None and est.typical <= threshold):
        return
    if est.typical is None:  # a paid provider with no known price: say so, and ask
        question = (f"kimi_lab.map: {est.to_ask:,} rows on {est.provider}, whose price is unknown (none listed), so "
                    f"the cost cannot be estimated. Start? [y/N] ")
    else:
        question = (f"kimi_lab.map: {est.to_ask:,} rows on {est.provider} are estimated at about "
                    f"${est.typical:,.2f} (up to ${est.high:,.2f}). Start? [y/N] ")
    estimated = "of unknown cost" if est.typical is None else f"estimated at about ${est.typical:,.2f}"
    how = (f"pass max_cost= to cap the spend, or confirm=False to start without asking "
           f"(KimiLab.map_confirm_cost is ${threshold:,.2f})" if est.typical is not None else
           "pass confirm=False to start without asking, or give the provider a price in KimiLab.presets")
    try:
        reply = input(question)
    except KeyboardInterrupt:
        raise
    except BaseException:  # no stdin here (StdinNotImplementedError, EOFError, OSError)
        raise KimiConfigError(f"this job is {estimated} and there is no way to ask here: {how}") from None
    if reply.strip().lower() not in ("y", "yes"):
        raise KimiConfigError(f"not started (answered {reply.strip()!r}); {how}")
