"""The kernel side of the sidebar protocol (docs/sidebar-protocol.md): the `kimi_lab` comm.

Why this shape: with JupyterLab 4.4+ and ipykernel 7 a comm message may be handled on a
subshell thread, and the main thread may be running a user's cell. So the handler only
answers from thread-safe state, starts worker threads and sets events; it never touches the
user's namespace. Tools (and `{name}` interpolation) reach the namespace through
`run_on_main`, between cells. Only light modules are imported here (`%load_ext` imports this file in a kernel); the
model client is imported by the first `ask`, in its worker thread.
"""

from __future__ import annotations

import contextvars
import os
import sys
import threading
from dataclasses import asdict
from typing import Any, Callable

from kimi_lab import __version__
from kimi_lab.core.conversation import default_chat
from kimi_lab.core.session import busy_message, session
from kimi_lab.faces.comm.asks import Ask
from kimi_lab.faces.comm.messages import BridgeError, jsonable, one_line, turns
from kimi_lab.faces.comm.protocol import ANSWERS, ASK_OPTIONS, PROTOCOL, REQUESTS, TARGET
from kimi_lab.services.chats import adopt_notebook_chat, chat_history, reopen_unseen
from kimi_lab.settings.config import settings

__all__ = ["PROTOCOL", "TARGET", "Bridge", "BridgeError", "register_comm_target"]


def register_comm_target(shell: Any) -> bool:
    """Register the comm target when `shell` runs in ipykernel; a plain IPython has none."""
    manager = getattr(getattr(shell, "kernel", None), "comm_manager", None)
    if manager is None:
        return False
    manager.register_target(TARGET, _open)
    return True


def _open(comm: Any, msg: dict[str, Any]) -> None:
    bridge = Bridge(comm.send)
    comm.on_msg(bridge.handle)
    comm.on_close(lambda msg: bridge.close())


class Bridge:
    """One comm: serves the frontend's requests; `handle` is safe to call from any thread.

    It holds only the asks still running (for `stop`, `approve` and a reloaded page that follows
    one); a finished ask is let go at once, since it holds the turn and through it the user's
    namespace. Of finished asks only their ids are kept: a late `stop` is ignored, a late
    `approve` finds nothing pending, and an id is never used twice."""

    def __init__(self, send: Callable[[dict[str, Any]], None], face: str = "the sidebar") -> None:
        self._raw_send, self._send_lock = send, threading.Lock()
        self.face = face  # who asks through this bridge: the sidebar's comm, or the chat panel
        self.asks: dict[str, Ask] = {}  # running asks this comm started or follows
        self.finished: set[str] = set()  # request ids of this comm's finished asks

    def send(self, message: dict[str, Any]) -> None:
        with self._send_lock:
            self._raw_send(message)

    def close(self) -> None:
        """The comm closed: detach from every ask this frontend started or followed."""
        for ask in list(self.asks.values()):
            ask.detach(self.send)

    def _hold(self, ask: Ask) -> None:
        """Keep a running ask until it finishes."""
        if ask.hold(self._release):
            self.asks.setdefault(ask.request_id, ask)

    def _release(self, request_id: str) -> None:
        self.finished.add(request_id)
        self.asks.pop(request_id, None)

    def handle(self, msg: dict[str, Any]) -> None:
        """The comm's on_msg callback: every failure becomes a one-line `error` reply."""
        data = (msg.get("content") or {}).get("data") if isinstance(msg, dict) else None
        request_id = data.get("request_id") if isinstance(data, dict) else None
        try:
            kind = data.get("type") if isinstance(data, dict) else None
            if kind not in REQUESTS:
                raise BridgeError(f"unknown message type {kind!r}; expected one of {', '.join(REQUESTS)}")
            if not isinstance(request_id, str) or not request_id:
                raise BridgeError(f"{kind!r} needs a string 'request_id'")
            getattr(self, f"_{kind}")(request_id, data)
        except Exception as exc:
            try:
                self.send({"type": "error", "request_id": request_id, "message": one_line(exc)})
            except Exception:
                pass

    def _reply(self, request_id: str, kind: str, **fields: Any) -> None:
        self.send(jsonable({"type": kind, "request_id": request_id, **fields}))

    def _hello(self, request_id: str, data: dict[str, Any]) -> None:
        from kimi_lab.services.models import model_an_ask_uses
        from kimi_lab.settings.target import resolve_target

        _check_protocol(data.get("protocol", PROTOCOL))
        try:
            target = resolve_target(config=settings())
            provider, model = target.provider.name, model_an_ask_uses(target)
        except Exception:  # not configured yet: the sidebar says so when it asks
            provider = model = None
        self._reply(request_id, "hello", protocol=PROTOCOL, version=__version__, kernel_id=_kernel_id(),
                    chats=session().conversations.names(), provider=provider, model=model)

    def _ask(self, request_id: str, data: dict[str, Any]) -> None:
        chat, prompt, options = _chat(data), data.get("prompt"), data.get("options") or {}
        if not isinstance(prompt, str) or not prompt.strip():
            raise BridgeError("'prompt' must be a non-empty string")
        if not isinstance(options, dict) or not set(options) <= ASK_OPTIONS:
            unknown = sorted(set(options) - ASK_OPTIONS) if isinstance(options, dict) else options
            raise BridgeError(f"unknown options {unknown}; allowed: {', '.join(sorted(ASK_OPTIONS))}")
        if request_id in self.asks or request_id in self.finished:
            raise BridgeError(f"request_id {request_id!r} was already used on this comm")
        reopen_unseen(chat)  # asked before the view loaded the history: go on from the recorded chat
        ask = Ask(self.send, request_id, chat, prompt, self.face)
        other = session().busy.claim(chat, ask)
        if other is not None:
            raise BridgeError(busy_message(chat, other, "wait for that answer or stop it, then ask again"))
        self._hold(ask)
        context = contextvars.copy_context()  # the ask's messages keep this request as their parent
        threading.Thread(target=context.run, args=(ask.run, dict(options)), name=f"kimi_lab-ask-{request_id}",
                         daemon=True).start()

    def _find(self, data: dict[str, Any]) -> Ask | None:
        """The running ask `data` names; None when it has finished."""
        ask = self.asks.get(data["request_id"])
        if ask is None and data["request_id"] not in self.finished:
            raise BridgeError(f"no ask with request_id {data['request_id']!r} on this comm")
        return ask

    def _stop(self, request_id: str, data: dict[str, Any]) -> None:
        ask = self._find(data)
        if ask is not None:  # a stop after the answer finished is ignored
            ask.stop()

    def _approve(self, request_id: str, data: dict[str, Any]) -> None:
        if data.get("answer") not in ANSWERS:
            raise BridgeError(f"'answer' must be one of yes, no, always; got {data.get('answer')!r}")
        ask = self._find(data)
        if ask is None:
            raise BridgeError(f"no approval is pending for call {data.get('call_id')!r}: that answer has finished")
        ask.answer(str(data.get("call_id")), data["answer"])

    def _history(self, request_id: str, data: dict[str, Any]) -> None:
        chat = _chat(data)
        adopt_notebook_chat(chat)  # the sidebar opening this notebook's chat: the cells' default from now on
        conv, restored = chat_history(chat, reload=bool(data.get("reopen")))  # a busy chat: one-line error
        results = list(conv.results)
        finished = turns(results)
        running = session().busy.owner(conv.name)
        streaming = isinstance(running, Ask) and not any(
            running.turn is not None and r is running.turn.result for r in results)
        if streaming:
            # Still streaming: this frontend follows it from here on (stop and approve work too).
            self._hold(running)
            if running.attach(self.send, lambda turn: self._reply(request_id, "history", chat=conv.name,
                                                                  turns=[*finished, turn], restored=restored)):
                return
            finished = turns(list(conv.results))  # it finished meanwhile: its turn is in the conversation now
        self._reply(request_id, "history", chat=conv.name, turns=finished, restored=restored)

    def _chats(self, request_id: str, data: dict[str, Any]) -> None:
        busy, chats = session().busy.names(), session().conversations
        self._reply(request_id, "chats", chats=[{"name": n, "turns": len(chats.get(n).results), "busy": n in busy}
                                                for n in chats.names()])

    def _transcripts(self, request_id: str, data: dict[str, Any]) -> None:
        """Every chat that can be reopened: recorded ones (any kernel), then this kernel's others."""
        from kimi_lab.store.reopen import open_store

        store = open_store()
        busy, conversations = session().busy.names(), session().conversations
        loaded = {n for n in conversations.names() if conversations.get(n).results}
        chats = [{"name": c.name, "turns": c.turns, "last_activity": c.last_activity, "tokens": c.tokens,
                  "cost": c.cost, "loaded": c.name in loaded, "busy": c.name in busy}
                 for c in (store.chats() if store is not None else [])]
        listed = {c["name"] for c in chats}
        for name in sorted(loaded - listed):
            conv = conversations.get(name)
            chats.append({"name": name, "turns": len(conv.results), "last_activity": 0, "tokens": conv.usage.total,
                          "cost": conv.cost or None, "loaded": True, "busy": name in busy})
        self._reply(request_id, "transcripts", enabled=store is not None, chats=chats)

    def _providers(self, request_id: str, data: dict[str, Any]) -> None:
        from kimi_lab.services.providers import provider_statuses
        from kimi_lab.settings.target import ENV_API_KEY

        statuses, fallback = provider_statuses(os.environ)
        providers = [{"name": s.provider.name, "base_url": s.shown_url, "model": s.provider.model,
                      "dialect": s.provider.dialect, "key_env": s.provider.key_env, "key_set": s.key_set,
                      "needs_key": s.needs_key, "price": asdict(s.provider.price) if s.provider.price else None,
                      "context": s.provider.context, "max_output": s.provider.max_output} for s in statuses]
        self._reply(request_id, "providers", providers=providers, fallback_key_env=ENV_API_KEY,
                    fallback_key_set=fallback)

    def _models(self, request_id: str, data: dict[str, Any]) -> None:
        """The model ids a provider lists right now, Kimi first, for the model box. Read on a thread: a
        listing may take seconds, and the comm's handler runs on the kernel's shell thread."""
        provider = data.get("provider") or None
        if provider is not None and not isinstance(provider, str):
            raise BridgeError("'provider' must be a preset name")

        def fetch() -> None:
            from kimi_lab.services.models import list_models

            try:
                listed = list_models(provider)
                self._reply(request_id, "models", provider=listed.target.provider.name,
                            models=[m.id for m in listed.models], chosen=listed.target.model, error=listed.error)
            except Exception as exc:
                self.send({"type": "error", "request_id": request_id, "message": one_line(exc)})

        threading.Thread(target=fetch, name="kimi-lab-models", daemon=True).start()

    def _doctor(self, request_id: str, data: dict[str, Any]) -> None:
        """The sidebar's Check setup: `%kimi doctor`'s free checks (key, endpoint, model), on a thread; the
        two paid ones stay with `%kimi doctor -y` in a cell, which says what they cost."""
        provider = data.get("provider") or None
        if provider is not None and not isinstance(provider, str):
            raise BridgeError("'provider' must be a preset name")

        def check() -> None:
            from types import SimpleNamespace

            from kimi_lab.services.doctor import doctor

            try:
                table = doctor(SimpleNamespace(provider=provider, model=None, base_url=None, yes=False))
                self._reply(request_id, "doctor", text=table.text(), markdown=table.markdown(),
                            ok="everything works" in table.title)
            except Exception as exc:
                self.send({"type": "error", "request_id": request_id, "message": one_line(exc)})

        threading.Thread(target=check, name="kimi-lab-doctor", daemon=True).start()

    def _export(self, request_id: str, data: dict[str, Any]) -> None:
        """The chat as Markdown: every recorded turn (across kernels), else this kernel's turns."""
        from kimi_lab.services.chats import export_chat

        exported = export_chat(_chat(data))
        self._reply(request_id, "export", chat=exported.chat, markdown=exported.markdown, source=exported.source,
                    turns=exported.turns)


def _check_protocol(theirs: Any) -> None:
    """A frontend that says which protocol it speaks must speak this kernel's; the refusal says
    which side to upgrade (a frontend that does not say checks the kernel's number itself)."""
    if not isinstance(theirs, int) or isinstance(theirs, bool):
        raise BridgeError(f"'protocol' must be a number, got {theirs!r}")
    if theirs > PROTOCOL:
        raise BridgeError(f"this kernel's kimi_lab {__version__} speaks protocol {PROTOCOL}, the frontend {theirs}: "
                          "upgrade kimi_lab in the kernel's environment (pip install -U kimi_lab), then restart the "
                          "kernel")
    if theirs < PROTOCOL:
        raise BridgeError(f"the frontend speaks kimi_lab protocol {theirs}, this kernel's kimi_lab {__version__} "
                          f"speaks {PROTOCOL}: upgrade the kimi-lab JupyterLab extension (pip install -U kimi_lab "
                          "where JupyterLab runs), then reload the page")


def _chat(data: dict[str, Any]) -> str:
    chat = data.get("chat") or default_chat()
    if not isinstance(chat, str):
        raise BridgeError("'chat' must be a string")
    return chat


def _kernel_id() -> str | None:
    """The id the Jupyter server gave this kernel: it names the connection file. Outside a running
    kernel, None, and nothing is imported: importing ipykernel's app replaces `comm.create_comm` for
    the whole process, which breaks ipywidgets anywhere no kernel runs."""
    kernelapp = sys.modules.get("ipykernel.kernelapp")
    if kernelapp is None or not kernelapp.IPKernelApp.initialized():
        return None
    try:
        from ipykernel.connect import get_connection_file

        name = os.path.basename(get_connection_file())
    except Exception:
        return None
    return name.removeprefix("kernel-").removesuffix(".json")
