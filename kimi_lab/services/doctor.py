"""`%kimi doctor`: does this setup work, and if not, what to do about it.

Each check says ✓ or ✗ (or ⚠ when it could not be decided) with a fix beside every ✗. The free checks
run always: the key (its source, never its value), the endpoint (its model list), the model (listed or
not). The two that cost tokens run with `-y`, or at once on a free provider: a tiny streamed question
sent with exactly the fields a real question carries (does reasoning arrive; are usage and cached tokens
reported), and one tool round trip with the reasoning echoed back (accepted, or the provider's exact
reason). Bounded: a 5 s listing and two requests of at most DOCTOR_TOKENS output tokens, 20 s each, no
retries: under a minute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kimi_lab.common.errors import KimiError
from kimi_lab.common.tables import Table
from kimi_lab.settings.config import KimiLab, settings

__all__ = ["Doctor", "doctor"]

DOCTOR_TOKENS = 1_024  # output budget of each paid check: enough for a short reasoning and "ok"
DOCTOR_PROMPT_TOKENS = 1_200  # about what each paid check sends (the tool declarations included)
DOCTOR_TIMEOUT = 20.0
CHAT = "kimi-lab-doctor"


@dataclass
class Doctor:
    """The checks' rows, and whether every one passed."""

    rows: list[list[str]] = field(default_factory=list)
    ok: bool = True

    def add(self, check: str, passed: bool | None, detail: str, fix: str = "") -> None:
        mark = "✓" if passed else "⚠" if passed is None else "✗"
        self.rows.append([f"{mark} {check}", detail, fix if passed is not True else ""])
        self.ok = self.ok and passed is not False

    def table(self, title: str) -> Table:
        verdict = "everything works" if self.ok else "something needs fixing (see ✗)"
        return Table(["check", "result", "fix"], self.rows, title=f"{title}: {verdict}")


def doctor(args: Any, config: KimiLab | None = None) -> Table:
    """Run the checks for the provider the magic's options select."""
    from kimi_lab.backends.listing import fetch_listing, kimi_ids
    from kimi_lab.services import ask as api
    from kimi_lab.services.fallback import chain_check
    from kimi_lab.settings.target import resolve_target

    cfg = config or settings()
    report = Doctor()
    chain = chain_check(args.provider, cfg)
    if chain is not None:  # -p a,b: the chain, then the first provider's checks
        report.add("fallback chain", *chain)
    try:
        target = resolve_target(provider=args.provider, model=args.model, base_url=args.base_url, config=cfg)
    except KimiError as exc:
        report.add("API key and provider", False, exc.message, "see `%kimi providers`")
        return report.table("kimi_lab doctor")
    title = f"kimi_lab doctor: {target.provider.name} at {target.shown_url}"
    if target.provider.dialect == "native":
        report.add("local GGUF", None, "nothing to reach: the model runs in this kernel", "")
        return report.table(title)
    report.add("API key", True, f"from {target.key_source}" if target.key_source else "none needed")
    listing = fetch_listing(target, cfg, refresh=True, timeout=5.0)
    if listing.error:
        report.add("endpoint", None if "404" in listing.error else False, f"no model list ({listing.error})",
                   "check --base-url and the key; some servers have no /models, then the question below decides")
    else:
        report.add("endpoint", True, f"{len(listing.models)} models listed, {len(kimi_ids(listing))} of them Kimi")
    target = api.preferred_model(target, cfg)
    if not listing.error:
        served = ", ".join(kimi_ids(listing)[:6]) or "no Kimi model"
        listed = listing.has(target.model)
        report.add("model", listed, f"{target.model} is {'' if listed else 'not '}listed",
                   f"pass -m with one it lists: {served}")
    price = target.provider.price_of(target.model)
    free = price is not None and price.input == 0 and price.output == 0
    if not (getattr(args, "yes", False) or free):
        worst = price.cost(2 * DOCTOR_PROMPT_TOKENS, 2 * DOCTOR_TOKENS, 0) if price else None
        cost = f"about ${worst:.4f} at most" if worst is not None else "a few cents at most (price unknown)"
        report.add("question and tool round trip", None, f"not run: two small requests, {cost}",
                   "run `%kimi doctor -y` to send them")
        return report.table(title)
    _paid_checks(report, args, cfg, target)
    return report.table(title)


def _paid_checks(report: Doctor, args: Any, cfg: KimiLab, target: Any) -> None:
    from kimi_lab.core.session import session
    from kimi_lab.services import ask as api

    quick = KimiLab()  # the user's settings, with a short timeout and no retries
    for name in cfg.trait_names(config=True):
        setattr(quick, name, getattr(cfg, name))
    quick.timeout, quick.max_retries, quick.transcripts = min(cfg.timeout, DOCTOR_TIMEOUT), 0, False
    options = {"provider": target.provider.name, "model": target.model, "base_url": args.base_url,
               "chat": CHAT, "new": True, "max_tokens": DOCTOR_TOKENS, "config": quick}
    try:
        turn = api.prepare("Reply with the single word: ok", tools="none", **options)
        turn.run(lambda event: None)
        result, error = turn.result, turn.error
        if error is not None:
            report.add("streamed question", False, error.message, "the line above is the provider's own reason")
            return
        reasoning = f"reasoning arrived ({len(result.reasoning):,} characters)" if result.reasoning else "no reasoning"
        usage = result.usage
        counted = f"usage reported ({usage.prompt:,} in, {usage.completion:,} out, {usage.cached:,} cached)" if (
            usage.prompt or usage.completion) else "no usage reported (cost cannot be counted)"
        report.add("streamed question", bool(result.content.strip()),
                   f"answered {result.content.strip()[:40]!r}; {reasoning}; {counted}; model {result.model}",
                   "an empty answer: raise --max-tokens, or the model may not be a chat model")
        turn = api.prepare("Call the tool list_variables once, then reply with the single word: ok",
                           tools="list_variables", namespace={}, max_rounds=1, **options)
        turn.run(lambda event: None)
        result, error = turn.result, turn.error
        if error is not None:
            report.add("tool round trip", False, error.message,
                       "the provider refused the echoed reasoning or the tool result: the line above says why")
        elif result.rounds < 2:
            report.add("tool round trip", None, "the model answered without calling the tool; nothing was echoed",
                       "run it again; some hosts serve Kimi without tool calling")
        else:
            report.add("tool round trip", True, "a tool call, its result and the reasoning echoed back were accepted")
    finally:
        session().conversations.reset(CHAT)

