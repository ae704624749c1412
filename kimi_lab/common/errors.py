"""Errors a user can act on: each renders as one line that says what to do.

IPython shows an exception through `_render_traceback_` when it has one, so these never
produce a traceback wall in a notebook or terminal. A URL in a message shows no password
(`https://user:***@host`): messages name the endpoint that failed, and a base URL may carry one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kimi_lab.common.secrets import mask_urls

if TYPE_CHECKING:
    from kimi_lab.common.result import Result

__all__ = [
    "KimiAPIError", "KimiBusyError", "KimiConfigError", "KimiConnectionError", "KimiError", "KimiInterrupted",
    "KimiNoProviderError", "KimiStreamError"
]


class KimiError(Exception):
    """Base class; `.partial` holds whatever answer had arrived before the failure."""

    kind = "error"

    def __init__(self, message: str, *, partial: Result | None = None) -> None:
        message = mask_urls(message)
        super().__init__(message)
        self.message = message
        self.partial = partial

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[31m{type(self).__name__}\x1b[0m: {self.message}"]


class KimiConfigError(KimiError):
    """No provider, no key, a bad option: fixable before any request is sent."""

    kind = "config"


class KimiNoProviderError(KimiConfigError):
    """No key for any preset and no base URL: nothing to ask. `keys` names the variables to set."""

    def __init__(self, message: str, *, keys: str = "") -> None:
        super().__init__(message)
        self.keys = keys


class KimiBusyError(KimiError):
    """The chat is answering another question (in the sidebar, the panel or a cell) right now."""

    kind = "busy"


class KimiAPIError(KimiError):
    """The provider answered with an HTTP error."""

    kind = "api"

    def __init__(self, message: str, *, status: int | None = None, partial: Result | None = None) -> None:
        super().__init__(message, partial=partial)
        self.status = status
        self.retry_after: float | None = None  # seconds the provider asked to wait (Retry-After), if it did


class KimiConnectionError(KimiError):
    """Could not connect, or no bytes arrived in time."""

    kind = "connection"


class KimiStreamError(KimiError):
    """The stream broke mid-answer (cut connection, provider error event)."""

    kind = "stream"


class KimiInterrupted(KimiError, KeyboardInterrupt):
    """The user interrupted the kernel mid-answer; the partial answer is kept."""

    kind = "interrupted"
