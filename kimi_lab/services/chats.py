"""What the faces ask of the session, answered once: the magic's subcommands, the comm bridge
and the chat panel call these, so `%kimi export` and the sidebar's Export cannot disagree again.

Light at import (the bridge imports this module at `%load_ext`): the store, the renderer and
the reopen path are imported by the call that needs them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kimi_lab.common.errors import KimiBusyError
from kimi_lab.core.conversation import DEFAULT_CHAT, chat_name_for_path, default_chat, session_path
from kimi_lab.core.session import busy_message, session

if TYPE_CHECKING:
    from kimi_lab.core.conversation import Conversation

__all__ = ["Exported", "adopt_notebook_chat", "chat_history", "clear_chat", "export_chat", "reopen_chat",
           "reopen_unseen"]

_reopen_lock = threading.Lock()  # a history and an ask arriving together (two faces) reopen a chat once


@dataclass(frozen=True)
class Exported:
    """A chat as Markdown, and where its turns came from."""

    chat: str
    markdown: str
    source: str  # "transcripts": every recorded turn, across kernels | "memory": this kernel's turns
    turns: int
    note: str = ""  # why only this kernel's turns, when that is not the whole chat


def export_chat(name: str | None = None) -> Exported:
    """Every recorded turn of chat `name` when transcripts are on and hold it, else this kernel's
    turns: each prompt, then its answer exactly as the magic shows it."""
    from kimi_lab.render.answer import chat_markdown
    from kimi_lab.store.reopen import open_store, result_of

    chat = name or default_chat()
    store = open_store()
    records = store.turns(chat) if store is not None else []
    if records:
        return Exported(chat, chat_markdown(chat, [result_of(r) for r in records]), "transcripts", len(records))
    chats = session().conversations
    results = list(chats.get(chat).results) if chats.has(chat) else []
    note = "" if store is not None else ("transcripts are off or cannot be used, so this is this kernel's turns "
                                         "only")
    return Exported(chat, chat_markdown(chat, results), "memory", len(results), note)


def _refuse_if_busy(chat: str, what: str) -> None:
    """An answer running in `chat` (any face) would interleave with a cleared or reloaded history."""
    other = session().busy.owner(chat)
    if other is not None:
        raise KimiBusyError(busy_message(chat, other, f"wait for that answer (or stop it there), then {what}"))


def clear_chat(name: str | None = None) -> str:
    """Forget chat `name`'s messages in this kernel (the transcripts keep them); one line."""
    conv = session().conversations.get(name)
    _refuse_if_busy(conv.name, "clear it")
    count = len(conv.messages)
    conv.reset()
    return f"chat {conv.name!r} cleared ({count} messages)"


def reopen_chat(name: str | None = None) -> str:
    """Load a recorded chat back into this kernel's memory so the conversation can go on; one line
    saying what happened."""
    from kimi_lab.store.reopen import open_store, reopen

    _refuse_if_busy(name or default_chat(), "reopen it")
    store = open_store()
    if store is None:
        return "transcripts are off, so there is nothing to reopen"
    conv, n = reopen(name, store)
    if not n:
        return f"no recorded turns for chat {conv.name!r}"
    return f"reopened chat {conv.name!r}: {n} turn(s) from the transcripts file (%kimi history {conv.name} shows them)"


def reopen_unseen(chat: str) -> int:
    """A chat this kernel never saw (a fresh kernel, a restart) comes back from the transcripts file,
    once: how many turns came back."""
    with _reopen_lock:
        if session().conversations.has(chat):
            return 0
        from kimi_lab.store.reopen import reopen

        return reopen(chat)[1]


def chat_history(name: str | None = None, *, reload: bool = False) -> tuple[Conversation, int]:
    """Chat `name` as this kernel holds it, and how many turns came back from the transcripts to make it
    so: a chat this kernel never saw comes back once; `reload` reads it again (refused while it answers)."""
    chat = name or default_chat()
    if reload:
        from kimi_lab.store.reopen import reopen

        _refuse_if_busy(chat, "reopen it")
        restored = reopen(chat)[1]
    else:
        restored = reopen_unseen(chat)
    return session().conversations.get(chat), restored


def adopt_notebook_chat(name: str) -> bool:
    """A chat face opened chat `name`. When that is this kernel's notebook (its path under the server's
    root ends the kernel's absolute path), it becomes the cells' default, and what the cells asked
    under the kernel's own name moves to it, in memory and in the transcripts. True when adopted."""
    current = session()
    path = session_path()
    own = chat_name_for_path(path) if path else ""
    if not own or name == DEFAULT_CHAT or not (own == name or own.endswith("/" + name)):
        return False
    if current.notebook_chat == (path, name):
        return True
    current.notebook_chat = (path, name)
    if own != name and current.conversations.rename(own, name):
        from kimi_lab.store.reopen import open_store

        store = open_store()
        if store is not None:
            store.rename_chat(own, name)
    return True
