"""User settings as a traitlets Configurable, so `%config KimiLab.model = "..."` and
`c.KimiLab.provider = ...` in ipython_config.py both work."""

from __future__ import annotations

from traitlets import Bool, Dict, Enum, Float, Int, List, Unicode, Union
from traitlets.config import Configurable

__all__ = ["KimiLab", "settings", "use_settings"]


class KimiLab(Configurable):
    """Settings of kimi_lab. Magic options win over these; these win over environment variables."""

    provider = Union(
        [Unicode(), List(Unicode())], default_value=None, allow_none=True,
        help="Preset name (see `%kimi providers`), or a fallback chain tried in order: ['moonshot', 'openrouter'] "
        "or 'moonshot,openrouter'.",
    ).tag(config=True)
    model = Unicode(None, allow_none=True, help="Model id, overriding the preset's.").tag(config=True)
    base_url = Unicode(None, allow_none=True, help="Base URL, overriding the preset's.").tag(config=True)
    presets = Dict(
        {},
        help="Preset overrides and additions: {name: {base_url, key_env, model, dialect, price, "
        "context, max_output, key_required}}; price is [input, output, cache_read] per million tokens.",
    ).tag(config=True)
    max_tokens = Int(
        32_768, help="Sent with every request (reasoning counts against it); capped at the preset's max output."
    ).tag(config=True)
    temperature = Float(
        1.0, help="Sampling temperature (Kimi recommends 1.0); not sent to models whose provider fixes it."
    ).tag(config=True)
    effort = Enum(
        ["low", "high", "max"], None, allow_none=True,
        help="Reasoning effort, mapped to the model's own control (K3: reasoning_effort; K2.5/K2.6: low turns "
        "thinking off); None: the provider's default.",
    ).tag(config=True)
    openrouter_route = List(
        Unicode(), [],
        help="OpenRouter: upstream hosts to try, in order (e.g. ['moonshotai', 'together']); empty: OpenRouter's "
        "choice. Sent as provider.order.",
    ).tag(config=True)
    openrouter_fallbacks = Bool(
        True, help="OpenRouter: allow hosts outside openrouter_route when those fail (provider.allow_fallbacks)."
    ).tag(config=True)
    model_rules = Dict(
        {},
        help="Corrections to the per-model request rules (see `%kimi config`): {rule name: {field: value}}, "
        "or a new rule with a 'pattern'. Fields: thinking, fixed_sampling, output_field, replay, "
        "required_tool_choice, note.",
    ).tag(config=True)
    top_p = Float(None, allow_none=True, help="Nucleus sampling; not sent unless set.").tag(config=True)
    timeout = Float(300.0, help="Seconds to wait for the next bytes of a response.").tag(config=True)
    connect_timeout = Float(10.0, help="Seconds to wait for a connection.").tag(config=True)
    max_retries = Int(3, help="Retries after HTTP 429 / 5xx before giving up.").tag(config=True)
    retry_backoff = Float(1.0, help="First retry delay in seconds (doubles each time) when no Retry-After.").tag(
        config=True
    )
    retry_after_cap = Float(60.0, help="Longest Retry-After honoured, in seconds.").tag(config=True)
    display = Enum(
        ["auto", "html", "text", "none"],
        "auto",
        help="Live view: html (Jupyter frontends), text (terminals), auto picks by frontend.",
    ).tag(config=True)
    update_interval = Float(0.1, help="Seconds between live display updates (throttle).").tag(config=True)
    show_reasoning = Bool(True, help="Show the reasoning trace (it is always recorded).").tag(config=True)
    tools = Unicode(
        "auto",
        help="Tools offered: auto (data tools + yours), data, none, +code (adds run_python), or a comma list.",
    ).tag(config=True)
    max_tool_rounds = Int(64, help="Most model calls in one answer's tool loop (up to 1000).").tag(config=True)
    tool_timeout = Float(30.0, help="Seconds a tool may run before it is stopped.").tag(config=True)
    evaluate_sandbox = Bool(
        True,
        help="Linux: run each evaluate call in a locked-down fork of the kernel (no writes, network or processes; "
        "memory and time capped), a second layer behind evaluate's own checks. See docs/security.md.",
    ).tag(config=True)
    tool_result_tokens = Int(
        4_000, help="Cap on each tool result sent to the model (head and tail kept), in tokens of ~4 characters."
    ).tag(config=True)
    map_confirm_cost = Float(
        1.0, help="kimi_lab.map: a job estimated above this many dollars asks before it starts (paid providers only)."
    ).tag(config=True)
    map_limits = Dict(
        {},
        help="kimi_lab.map admission per provider, over the built-in defaults (moonshot: its entry tier, "
        "concurrency 1 and 3 rpm): {provider: {concurrency, rpm, tpm}}.",
    ).tag(config=True)
    n_ctx = Int(16_384, help="Local backend: context size in tokens (capped at the model's own).").tag(config=True)
    n_threads = Int(None, allow_none=True, help="Local backend: CPU threads (default: llama.cpp's choice).").tag(
        config=True
    )
    n_gpu_layers = Int(0, help="Local backend: layers offloaded to the GPU (-1: all).").tag(config=True)
    cpu_moe = Bool(False, help="Local backend: keep MoE expert weights on the CPU (where llama.cpp supports it).").tag(
        config=True
    )
    min_p = Float(0.01, help="Local backend: min-p sampling (Kimi recommends 0.01).").tag(config=True)
    local_top_p = Float(0.95, help="Local backend: top-p sampling when --top-p is not given.").tag(config=True)
    transcripts = Bool(True, help="Record every turn's events to the transcripts file as they stream.").tag(
        config=True
    )
    transcripts_path = Unicode(
        "", help="Transcripts file (default: $KIMI_LAB_TRANSCRIPTS, else <jupyter data dir>/kimi_lab/...)."
    ).tag(config=True)
    cache = Enum(
        ["off", "use", "replay"], "off",
        help="Replay cache of model calls, in the transcripts file: use (a repeated request is answered from it, "
        "a new one recorded), replay (answered from it only, nothing sent: offline), off. See `%kimi cache`.",
    ).tag(config=True)
    secret_env = List(
        Unicode(),
        [],
        help="Extra environment variable names whose values are scrubbed from everything shown or sent.",
    ).tag(config=True)


def settings() -> KimiLab:
    """The session's settings object (the one `%config KimiLab` edits once the extension is loaded)."""
    from kimi_lab.core.session import session

    current = session()
    if current.settings is None:
        current.settings = KimiLab()
    return current.settings


def use_settings(obj: KimiLab) -> None:
    """Install a settings object (the extension passes one bound to the shell's config)."""
    from kimi_lab.core.session import session

    session().settings = obj
