"""This kernel's session: everything kimi_lab remembers between questions, in one place.

Conversations, usage, settings, "always allow" answers, the chats answering right now and the
transcripts recorder used to be module globals in eight modules; every face (the magic, the comm
bridge, the chat panel) now reads them here, so a chat the sidebar is answering in is busy for a
`%%kimi --chat` cell too, and a test starts from a fresh session in one call.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kimi_lab.core.conversation import Conversations
    from kimi_lab.core.usage import Ledger
    from kimi_lab.settings.config import KimiLab
    from kimi_lab.store.recorder import Recorder

__all__ = ["Answering", "BusyChats", "Session", "busy_message", "new_session", "session"]


class Answering:
    """Who holds a busy chat when a cell or `kimi_lab.ask` asks (the bridge's asks say their own face)."""

    face = "a cell"


def busy_message(chat: str, owner: Any, what_then: str) -> str:
    """One line: the chat is taken, by which face, and what to do (`what_then` depends on the asker)."""
    face = getattr(owner, "face", "another answer")
    return f"chat {chat!r} is answering in {face} right now; {what_then}"


class BusyChats:
    """The chats an answer is running in, and who runs it: one answer per chat at a time, whatever
    face asked (answers interleaved in one conversation would make its next request invalid)."""

    def __init__(self) -> None:
        self._owners: dict[str, Any] = {}
        self._lock = threading.Lock()

    def claim(self, chat: str, owner: Any) -> Any:
        """Take `chat` for `owner`; None when taken, else the owner already answering there."""
        with self._lock:
            current = self._owners.get(chat)
            if current is not None and current is not owner:
                return current
            self._owners[chat] = owner
            return None

    def release(self, chat: str, owner: Any) -> None:
        """Free `chat` if `owner` holds it (a late release by an earlier owner frees nothing)."""
        with self._lock:
            if self._owners.get(chat) is owner:
                del self._owners[chat]

    def owner(self, chat: str) -> Any:
        with self._lock:
            return self._owners.get(chat)

    def __contains__(self, chat: object) -> bool:
        with self._lock:
            return chat in self._owners

    def names(self) -> set[str]:
        with self._lock:
            return set(self._owners)


class Session:
    """What one kernel remembers; parts are made on first use (importing this module is free)."""

    def __init__(self) -> None:
        self.busy = BusyChats()
        self.always_allowed: set[str] = set()  # tools the user answered "always" for
        #: (the kernel's notebook path, what the sidebar calls its chat), once the sidebar opened it
        self.notebook_chat: tuple[str, str] | None = None
        self.settings: KimiLab | None = None  # the %config KimiLab object (config.settings() makes it)
        self.recorder: Recorder | None = None  # transcripts.recorder() opens it
        self._conversations: Conversations | None = None
        self._ledger: Ledger | None = None

    @property
    def conversations(self) -> Conversations:
        if self._conversations is None:
            from kimi_lab.core.conversation import Conversations

            self._conversations = Conversations()
        return self._conversations

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            from kimi_lab.core.usage import Ledger

            self._ledger = Ledger()
        return self._ledger


_current = Session()


def session() -> Session:
    """This kernel's session."""
    return _current


def new_session() -> Session:
    """Start from nothing (tests): a fresh session replaces the current one, whose recorder writes
    what it was given and closes its file first, so nothing is lost and no writer thread is left."""
    global _current
    old = _current
    if old.recorder is not None:
        old.recorder.close()
    _current = Session()
    return _current
