"""What `%kimi providers | config | usage | history` show. Keys are never shown, only whether set, and a
base URL's password (or a key in its query) is shown as `***`."""

from __future__ import annotations

import textwrap
from typing import Any, Mapping

from kimi_lab.common.dollars import md_plain
from kimi_lab.common.errors import KimiAPIError, KimiError
from kimi_lab.common.tables import Table
from kimi_lab.core.session import session
from kimi_lab.render.answer import format_cost, markdown, plain_text
from kimi_lab.services.providers import provider_statuses
from kimi_lab.settings.config import settings
from kimi_lab.settings.models import rule_for
from kimi_lab.settings.target import ENV_API_KEY, resolve_target

__all__ = [
    "History", "config_table", "export", "history", "models_table", "providers_table", "tools_table", "usage_report"
]


def providers_table(env: Mapping[str, str]) -> Table:
    rows = []
    statuses, fallback = provider_statuses(env)
    for status in statuses:
        p = status.provider
        if p.key_env:
            key = f"{p.key_env} {'✓ set' if status.key_set else '✗ not set'}"
            if not status.key_set and fallback and status.needs_key:
                key += f" ({ENV_API_KEY} serves)"
        else:
            key = "not needed"
        price = (
            f"${p.price.input:g} / ${p.price.output:g} / ${p.price.cache_read:g}" if p.price else "unknown"
        )
        model = f"{p.model} (or {', '.join(m for m in p.prefer if m != p.model)} if listed)" if p.prefer else p.model
        rows.append(
            [p.name, status.shown_url or "(set --base-url)", key, model, p.dialect, price,
             f"{p.context:,}", f"{p.max_output:,}", p.note]
        )
    return Table(
        ["provider", "base URL", "API key", "model", "reasoning dialect",
         "price per 1M in / out / cache read", "context", "max output", "note"],
        rows,
        title=f"Providers (a key in {ENV_API_KEY} works for any of them)",
    )


def models_table(args: Any) -> Table:
    """`%kimi models [-p NAME]`: what the provider lists right now (GET /models), Kimi ids first."""
    from kimi_lab.services.models import list_models

    cfg = settings()
    listed = list_models(args.provider, args.model, args.base_url, refresh=True)
    t = listed.target
    if listed.error:
        raise KimiAPIError(
            f"could not read the model list of {t.provider.name} at {t.shown_url} ({listed.error}); "
            f"check the key and --base-url, or pass -m with a model id the provider documents"
        )
    rows = []
    for m in listed.models:
        price = f"${m.price.input:.2f} / ${m.price.output:.2f} / ${m.price.cache_read:.2f}" if m.price else ""
        rows.append([m.id, f"{m.context:,}" if m.context else "", f"{m.max_output:,}" if m.max_output else "",
                     price, rule_for(m.id, cfg.model_rules).name if m.is_kimi else ""])
    return Table(["model", "context", "max output", "price per 1M in / out / cache read", "request rule"], rows,
                 title=f"Models {t.provider.name} lists: {len(rows)}, {listed.kimi} of them Kimi (chosen: {t.model})")


def config_table(args: Any) -> Table:
    cfg = settings()
    rows: list[list[object]] = []
    try:
        t = resolve_target(provider=args.provider, model=args.model, base_url=args.base_url, config=cfg)
        rows += [
            ["provider", t.provider.name],
            ["base URL", t.shown_url],
            ["model", t.model],
            ["API key", f"from {t.key_source}" if t.key_source else "none (not needed)"],
        ]
        if t.provider.dialect != "native":
            rule = rule_for(t.model, cfg.model_rules)
            rows.append(["request rule", rule.describe(args.effort or cfg.effort)])
    except KimiError as exc:
        rows.append(["provider", f"not resolved: {exc.message}"])
    from kimi_lab.services.fallback import chain_rows

    rows += chain_rows(args.provider, cfg)  # -p a,b: each provider of the fallback chain, in order
    for name in ("max_tokens", "temperature", "top_p", "effort", "openrouter_route", "timeout", "max_retries",
                 "display", "update_interval", "show_reasoning"):
        rows.append([name, getattr(cfg, name)])
    return Table(["setting", "value"], rows, title="kimi_lab configuration (%config KimiLab.<setting> = …)")


def usage_report() -> Table:
    """Tokens and dollars per provider and model; cached prompt tokens with what the provider's prefix cache
    saved (billed at its cache-read price instead of the input price)."""
    rows = []
    for (provider, model), row in session().ledger.rows.items():
        p = row.price
        prices = f"${p.cache_read:g} vs ${p.input:g}" if p is not None else ""
        rows.append([provider, model, row.requests, f"{row.usage.prompt:,}", f"{row.usage.completion:,}",
                     f"{row.usage.cached:,}", prices, format_cost(row.saved),
                     format_cost(row.cost if row.cost_known else None)])
    total = session().ledger.total()
    rows.append(["total", "", total.requests, f"{total.usage.prompt:,}", f"{total.usage.completion:,}",
                 f"{total.usage.cached:,}", "", format_cost(total.saved),
                 format_cost(total.cost if total.cost_known else None)])
    return Table(["provider", "model", "requests", "in", "out", "cached", "cache read vs input per 1M",
                  "saved by cache", "cost"], rows, title="Usage this session")


class History:
    """A conversation's turns, each as the result renders it."""

    def __init__(self, name: str, results: list[Any]) -> None:
        self.name, self.results = name, results

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        md = [f"**chat {self.name!r}: {len(self.results)} turn(s)**"]
        text = [f"chat {self.name!r}: {len(self.results)} turn(s)"]
        for i, r in enumerate(self.results, 1):
            md.append(f"\n---\n**{i}. You:** {r.prompt}\n\n{markdown(r)}")
            text.append(f"\n{i}. You: {r.prompt}\n{plain_text(r)}")
        return {"text/markdown": "\n".join(md), "text/plain": "\n".join(text)}

    def __str__(self) -> str:
        return self._repr_mimebundle_()["text/plain"]


def history(name: str | None) -> History:
    from kimi_lab.services.chats import chat_history

    conv, _ = chat_history(name)
    return History(conv.name, list(conv.results))


def tools_table(spec: str | None) -> Table:
    """What the model would be offered now, and which tools ask before running."""
    from kimi_lab.tools.selection import select_tools

    cfg = settings()
    chosen = select_tools(spec if spec is not None else cfg.tools)
    rows = [
        [t.name, "built-in" if t.builtin else "yours", "asks every time" if t.ask else "runs without asking",
         textwrap.shorten(t.description, 100, placeholder=" …")]  # at a word, and says it was cut
        for t in chosen.values()
    ]
    spec_text = spec if spec is not None else cfg.tools
    return Table(["tool", "kind", "approval", "description"], rows,
                 title=f"Tools offered with --tools {spec_text} (max {cfg.max_tool_rounds} rounds, "
                       f"{cfg.tool_timeout:g} s per call)")


class _Markdown:
    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return {"text/markdown": self.text, "text/plain": self.text}


def export(name: str | None) -> Any:
    """A chat as Markdown: every recorded turn (across kernels), else this kernel's turns."""
    from kimi_lab.services.chats import export_chat

    exported = export_chat(name)
    if not exported.turns:
        return _Markdown(f"chat {exported.chat!r} has no turns to export (%kimi chats lists the chats)")
    return _Markdown(exported.markdown + (f"\n*{md_plain(exported.note)}*\n" if exported.note else ""))
