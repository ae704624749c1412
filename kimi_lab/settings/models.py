"""What a request must look like for each Kimi model: data, keyed by model-id pattern.

Providers stopped agreeing on one request shape in 2026 (shared/kimi-protocol.md §8): K2 Thinking is
always thinking and takes no control field; K2.5 and K2.6 take `thinking: {"type": ...}`; K2.7-code is
always on and rejects `disabled`; K3 takes `reasoning_effort` and no `thinking`; K2.5, K2.6, K2.7-code
and K3 fix their sampling (any `temperature`, `top_p`, `n` or penalty is a 400) and want
`max_completion_tokens`; K2.7-code and K3 want the reasoning of every earlier assistant message back.
Sources, as quoted in the protocol notes: the vendor's parameter reference (juspay/neurolink's Moonshot
provider doc, 2026-09) and AIHubMix's K3.1 migration guide. Each row is a fact to keep correctable:
`KimiLab.model_rules` overrides any field of a row by its name, or adds a row (with a `pattern`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

from kimi_lab.common.errors import KimiConfigError

__all__ = ["EFFORTS", "RULES", "ModelRule", "rule_for", "rules"]

EFFORTS = ("low", "high", "max")
THINKING = ("always", "toggle", "forced", "effort")  # no field; thinking.type; always on, no "disabled"; effort
REPLAY = ("tool_calls", "all")


@dataclass(frozen=True, slots=True)
class ModelRule:
    """One row: how requests to the models matching `pattern` are shaped."""

    name: str
    pattern: str  # regex, matched case-insensitively against the id without a "vendor/" prefix
    thinking: str = "always"
    fixed_sampling: bool = False  # temperature, top_p, n and the penalties are the provider's; send none
    output_field: str = "max_tokens"  # or "max_completion_tokens"
    replay: str = "tool_calls"  # which assistant messages carry their reasoning back
    required_tool_choice: bool = False  # tool_choice "required" accepted
    note: str = ""

    def matches(self, model: str) -> bool:
        return re.fullmatch(self.pattern, model.rsplit("/", 1)[-1], re.IGNORECASE) is not None

    def describe(self, effort: str | None = None) -> str:
        """One line for `%kimi config` and notes: what this rule changed in the request."""
        parts = [self.name]
        parts.append({
            "always": "thinking always on (no control)",
            "toggle": "thinking on (thinking.type)",
            "forced": "thinking always on (disabling it is an error)",
            "effort": f"effort {effort or 'max (the provider default)'} (reasoning_effort)",
        }[self.thinking])
        if self.fixed_sampling:
            parts.append("sampling fixed by the provider")
        parts.append(f"output limit as {self.output_field}")
        if self.replay == "all":
            parts.append("reasoning replayed on every assistant message")
        return "; ".join(parts)

    def body_fields(self, effort: str | None, dialect: str) -> tuple[dict[str, Any], str | None]:
        """Fields this model's requests carry, and a note when `effort` cannot be honoured."""
        out: dict[str, Any] = {}
        note = None
        if self.thinking == "effort":
            if effort:
                out["reasoning_effort"] = effort
        elif self.thinking == "toggle":
            out["thinking"] = {"type": "disabled" if effort == "low" else "enabled"}
        elif effort and dialect != "openrouter":
            note = f"{self.name} has no effort control (thinking is always on); --effort {effort} was not sent"
        return out, note


RULES: tuple[ModelRule, ...] = (
    ModelRule("kimi-k2-thinking", r"kimi-k2-thinking(-turbo)?", note="temperature 1.0 recommended"),
    # K2.5 rejects any temperature but its own (1.0 thinking, 0.6 not): reports quoted in the loopback server
    ModelRule("kimi-k2.5", r"kimi-k2\.5([-.].*)?", thinking="toggle", fixed_sampling=True),
    ModelRule("kimi-k2.6", r"kimi-k2\.6([-.].*)?", thinking="toggle", fixed_sampling=True,
              output_field="max_completion_tokens"),
    ModelRule("kimi-k2.7-code", r"kimi-k2\.7-code.*", thinking="forced", fixed_sampling=True,
              output_field="max_completion_tokens", replay="all"),
    ModelRule("kimi-k3", r"kimi-k3.*", thinking="effort", fixed_sampling=True,
              output_field="max_completion_tokens", replay="all", required_tool_choice=True),
    # A Kimi id this table does not know yet: the safe shape of the newest rows (nothing a newer model rejects)
    ModelRule("unknown Kimi", r".*kimi.*", fixed_sampling=True, replay="all",
              note="not in the rules table: sampling left to the provider, reasoning replayed everywhere"),
    ModelRule("other model", r".*", note="not a Kimi model: sent as an OpenAI-compatible request"),
)


def _row(name: str, spec: Mapping[str, Any], base: ModelRule | None) -> ModelRule:
    known = {f.name for f in fields(ModelRule)}
    unknown = set(spec) - known
    if unknown:
        raise KimiConfigError(
            f"KimiLab.model_rules[{name!r}] has unknown fields {sorted(unknown)}; known: {sorted(known - {'name'})}"
        )
    if base is None and "pattern" not in spec:
        raise KimiConfigError(f"KimiLab.model_rules[{name!r}] is a new rule: give it a 'pattern' (a regex)")
    row = replace(base, **spec) if base is not None else ModelRule(name=name, **spec)
    if row.thinking not in THINKING or row.replay not in REPLAY:
        raise KimiConfigError(
            f"KimiLab.model_rules[{name!r}]: thinking must be one of {THINKING}, replay one of {REPLAY}"
        )
    try:
        re.compile(row.pattern)
    except re.error as exc:
        raise KimiConfigError(f"KimiLab.model_rules[{name!r}]: pattern is not a regex ({exc})") from None
    return row


def rules(overrides: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[ModelRule, ...]:
    """The table with `KimiLab.model_rules` applied: overridden rows keep their place, new rows go first."""
    overrides = dict(overrides or {})
    by_name = {rule.name: rule for rule in RULES}
    table = [_row(name, overrides.pop(name), rule) if name in overrides else rule for name, rule in by_name.items()]
    added = [_row(name, spec, None) for name, spec in overrides.items()]
    return (*added, *table)


def rule_for(model: str, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> ModelRule:
    """The first row whose pattern matches `model` (the last row matches everything)."""
    return next(rule for rule in rules(overrides) if rule.matches(model))
