"""Start kimi_lab's demo server when no provider is set up, so the example notebooks run without a key.

Why: a first look at kimi_lab should show streamed reasoning and tool calls over real variables, not a
configuration error, and it must say plainly that those answers are scripted. The check reuses the
rules a question uses to pick its provider (kimi_lab.settings.target), so it never disagrees with them.

Cheap to import (no openai, pandas or numpy), so it can run before `%load_ext kimi_lab`.
`KIMI_LAB_DEMO_TPS` sets the demo's pace in tokens per second (default 40; 0: no pacing, for tests).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from kimi_lab.settings.config import KimiLab
from kimi_lab.testing._demo import DEFAULT_TOKENS_PER_SECOND
from kimi_lab.testing.server import LoopbackServer

__all__ = ["ENV_TPS", "MESSAGE", "provider_configured", "start_demo_if_no_key"]

ENV_TPS = "KIMI_LAB_DEMO_TPS"
MESSAGE = (
    "No provider key found: answers come from kimi_lab's built-in demo server (scripted, not a model). "
    "Set MOONSHOT_API_KEY or another key and restart the kernel to ask Kimi."
)
_running: LoopbackServer | None = None


def _config() -> KimiLab:
    """The settings a question would use: the extension's once loaded, else the shell's ipython_config."""
    from kimi_lab.core.session import session
    from kimi_lab.settings import config

    if session().settings is not None:
        return config.settings()
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return KimiLab()
    shell = get_ipython()
    return KimiLab(parent=shell) if shell is not None else KimiLab()


def provider_configured(env: Mapping[str, str] | None = None, config: KimiLab | None = None) -> bool:
    """False only when a question would fail with "no provider is set up" (no key for any preset, no
    provider or base URL chosen). A half-configured provider counts as set up: its own error is more useful
    than a demo."""
    from kimi_lab.common.errors import KimiConfigError, KimiNoProviderError
    from kimi_lab.settings.target import resolve_target

    cfg = config if config is not None else _config()
    try:
        resolve_target(config=cfg, env=env)
    except KimiNoProviderError:
        return False
    except KimiConfigError:
        return True
    return True


def _pace() -> float:
    raw = os.environ.get(ENV_TPS, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_TOKENS_PER_SECOND
    except ValueError:
        return DEFAULT_TOKENS_PER_SECOND
    return value if value >= 0 else DEFAULT_TOKENS_PER_SECOND


def start_demo_if_no_key(tokens_per_second: float | None = None) -> LoopbackServer | None:
    """With no provider set up: start the demo server on 127.0.0.1, point KIMI_LAB_BASE_URL at it, print
    one line saying so and return it. With a provider: change nothing and return None. Running it again
    keeps the demo already started."""
    global _running
    from kimi_lab.settings.target import ENV_BASE_URL

    if _running is not None and os.environ.get(ENV_BASE_URL) == _running.base_url:
        print(MESSAGE, flush=True)
        return _running
    if provider_configured():
        return None
    pace = _pace() if tokens_per_second is None else tokens_per_second
    server = LoopbackServer(demo=True, tokens_per_second=pace).start()
    os.environ[ENV_BASE_URL] = server.base_url
    _running = server
    print(MESSAGE, flush=True)
    return server
