"""One map job's settings, resolved once before any row is asked: the target and its request rules
(through the same `request_spec` as every question), the system prompt, the schema, the admission
limits, and how a row becomes a request and a checkpoint key."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field, replace
from typing import Any

from kimi_lab.backends.base import ChatRequest
from kimi_lab.common.errors import KimiConfigError
from kimi_lab.common.secrets import scrub
from kimi_lab.core.structured import Schema
from kimi_lab.core.template import RowTemplate
from kimi_lab.core.tokens import estimate_message_tokens
from kimi_lab.services.ask import TOOLS_SYSTEM, RequestSpec
from kimi_lab.services.typed import response_format
from kimi_lab.settings.config import KimiLab

__all__ = ["DEFAULT_LIMITS", "Limits", "MapPlan", "limits_for", "system_prompt"]

#: Admission when nothing is said. Moonshot's entry tier is concurrency 1, 3 RPM, 500,000 TPM
#: (kimi-protocol.md §8): a new account must not be rate limited into the ground, so that is the default
#: there; raise it with concurrency=/rpm=/tpm= or KimiLab.map_limits once your tier allows. One model runs
#: in a local kernel at a time; a server of your own (custom) takes what you give it.
DEFAULT_LIMITS: dict[str, dict[str, float]] = {
    "moonshot": {"concurrency": 1, "rpm": 3, "tpm": 500_000},
    "local": {"concurrency": 1},
    "custom": {"concurrency": 8},
}
_OTHERWISE = {"concurrency": 4}


@dataclass(frozen=True)
class Limits:
    concurrency: int
    rpm: float | None
    tpm: float | None
    source: str  # where they came from, said when the job starts

    def describe(self) -> str:
        parts = [f"concurrency {self.concurrency}"]
        if self.rpm:
            parts.append(f"{self.rpm:g} requests/min")
        if self.tpm:
            parts.append(f"{self.tpm:,.0f} tokens/min")
        return ", ".join(parts) + f" ({self.source})"


def limits_for(provider: str, cfg: KimiLab, concurrency: int | None, rpm: float | None,
               tpm: float | None) -> Limits:
    base = {**DEFAULT_LIMITS.get(provider, _OTHERWISE), **(cfg.map_limits.get(provider) or {})}
    given = concurrency is not None or rpm is not None or tpm is not None
    source = "as given" if given else (
        "KimiLab.map_limits" if provider in cfg.map_limits else
        "Moonshot's entry tier; raise with concurrency=, rpm=, tpm= or KimiLab.map_limits" if provider == "moonshot"
        else "the default; raise with concurrency= or KimiLab.map_limits")
    chosen = int(concurrency if concurrency is not None else base.get("concurrency", 4))
    if chosen < 1 or chosen > 1024:
        raise KimiConfigError(f"concurrency must be between 1 and 1024, got {chosen}")
    for name, value in (("rpm", rpm), ("tpm", tpm)):
        if value is not None and value < 0:
            raise KimiConfigError(f"{name} must be 0 (no limit) or above, got {value}")
    if provider == "local" and chosen > 1:
        chosen, source = 1, "one local model answers one row at a time"
    chosen_rpm = rpm if rpm is not None else base.get("rpm")
    chosen_tpm = tpm if tpm is not None else base.get("tpm")
    return Limits(chosen, chosen_rpm or None, chosen_tpm or None, source)  # 0: no limit


@dataclass
class MapPlan:
    spec: RequestSpec
    cfg: KimiLab
    template: RowTemplate
    schema: Schema | None
    system: str | None
    secrets: list[str]
    limits: Limits
    namespace: dict[str, Any] | None = None
    local: dict[str, Any] | None = None
    #: Tools run one at a time across the workers: a user's function need not be thread-safe.
    tool_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def target(self) -> Any:
        return self.spec.target

    @property
    def free(self) -> bool:
        """A server of your own or a local model (no key needed), or a zero price: nothing to confirm or cap.
        A keyed provider without a known price is not free: its cost is unknown."""
        price = self.target.provider.price
        zero = price is not None and price.input == 0 and price.output == 0
        return zero or not self.target.provider.key_required

    def response_format(self) -> dict[str, Any] | None:
        """As for one typed question (services/typed.py); the system prompt carries the schema either way."""
        return None if self.schema is None else response_format(self.schema, self.target)

    def messages(self, prompt: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.system:
            out.append({"role": "system", "content": self.system})
        out.append({"role": "user", "content": prompt})
        return out

    def prompt(self, row: dict[str, Any]) -> str:
        return scrub(self.template.render(row), self.secrets)

    def request(self, messages: list[dict[str, Any]], cancel: threading.Event) -> ChatRequest:
        return replace(self.spec.request, messages=messages, response_format=self._format, cancel=cancel)

    def __post_init__(self) -> None:
        self._format = self.response_format()

    def key(self, prompt: str) -> str:
        """What identifies a row's answer: the model and everything sent that shapes it."""
        req = self.spec.request
        shaped = {
            "provider": self.target.provider.name, "base_url": self.target.base_url, "model": self.target.model,
            "messages": self.messages(prompt),
            "response_format": self._format, "max_tokens": req.max_tokens, "temperature": req.temperature,
            "top_p": req.top_p, "seed": req.seed, "stop": req.stop, "effort": req.effort, "tools": req.tools,
        }
        blob = json.dumps(shaped, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:40]

    def input_tokens(self, prompt: str) -> int:
        return estimate_message_tokens(self.messages(prompt))

    def admission_tokens(self, prompt: str) -> int:
        """What a request counts against a tokens-per-minute limit: its input and the output it may use
        (Moonshot counts the max_tokens asked for)."""
        return self.input_tokens(prompt) + self.spec.request.max_tokens


def system_prompt(system: str | None, schema: Schema | None, tools: bool) -> str | None:
    parts = [system if system is not None else (TOOLS_SYSTEM if tools else "")]
    if schema is not None:
        parts.append(schema.instruction())
    text = "\n\n".join(p for p in parts if p)
    return text or None
