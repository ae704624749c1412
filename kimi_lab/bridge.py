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
import copy
import json
import os
import threading
from dataclasses import asdict
from typing import Any, Callable

from . import __version__
from ._mainthread import MainThreadBusy, run_on_main
from .config import settings
from .conversation import adopt_notebook_chat, conversations, default_chat
from .events import ToolStart, join_text, to_dict
from .protocol import ANSWERS, ASK_OPTIONS, PROTOCOL, REQUESTS, TARGET
from .render import markdown
from .secrets import mask_url, scrub
from .timeline import events_of
from .tools.display_code import approval_view

__all__ = ["PROTOCOL", "TARGET", "Bridge", "register_comm_target", "result_dict"]

BATCH_SECONDS = 0.075  # text deltas wait at most this long; boundaries flush at once
APPROVAL_SECONDS = 600.0  # an unanswered approval is a "no" after this
PREPARE_WAIT = 60.0  # how long `{name}` interpolation waits for a running cell
BOUNDARIES = frozenset({"tool_start", "tool_end", "status", "done", "error"})

_busy: dict[str, _Ask] = {}  # chat name -> its running ask, across comms (conversations are per kernel)
_busy_lock = threading.Lock()
_reopen_lock = threading.Lock()  # a `history` and an `ask` arriving together reopen a chat once


class BridgeError(Exception):
    """A request that cannot be served; the message is what the frontend shows."""


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


def _one_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if not isinstance(exc, (BridgeError, MainThreadBusy)) and not hasattr(exc, "kind"):
        text = f"{type(exc).__name__}: {text}"
    line = scrub(" ".join(str(text).split()))  # before the cut: a key cut in half would not match
    return line if len(line) <= 300 else line[:299] + "…"


def _face_message(exc: BaseException) -> str:
    """The one line a chat face shows: what to do from there (no --base-url to pass in a sidebar)."""
    from .errors import KimiNoProviderError
    from .target import sidebar_setup_help

    return sidebar_setup_help(exc.keys) if isinstance(exc, KimiNoProviderError) else _one_line(exc)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def result_dict(result: Any) -> dict[str, Any]:
    """The `result` of the protocol: what the magic shows, as JSON."""
    return _jsonable({
        "content": result.content, "reasoning": result.reasoning, "markdown": markdown(result),
        "usage": asdict(result.usage), "cost": result.cost, "model": result.model,
        "provider": result.provider, "finish_reason": result.finish_reason,
        "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments, "error": c.error,
                        "duration": c.duration} for c in result.tool_calls],
        "elapsed": result.elapsed, "ttft": result.ttft, "chat": result.chat, "prompt": result.prompt,
        "warnings": list(result.warnings), "error": result.error,
    })


def _wire(events: list[Any]) -> list[dict[str, Any]]:
    """Events as an `events` message carries them: text deltas joined, each in the one JSON form."""
    return _jsonable([to_dict(e) for e in join_text(events)])


def _turns(results: list[Any]) -> list[dict[str, Any]]:
    """Finished turns as `history` sends them."""
    return [{"prompt": r.prompt, "events": _wire(events_of(r)), "result": result_dict(r)} for r in results]


def _on_main_thread(tool: Any, default_timeout: float) -> Any:
    """A copy of `tool` whose function runs on the kernel's main thread, under its own limit."""
    from .tools.timeout import ToolTimeout, call_with_timeout

    limit = tool.timeout or default_timeout
    fn = tool.fn

    def between_cells(**kwargs: Any) -> Any:
        try:
            return run_on_main(lambda: call_with_timeout(lambda: fn(**kwargs), limit), limit)
        except MainThreadBusy as exc:
            raise ToolTimeout(str(exc)) from None

    wrapped = copy.copy(tool)
    wrapped.fn, wrapped.timeout = between_cells, None
    return wrapped


class _Ask:
    """One `ask`: runs the turn in a worker thread and sends its events, batched, in order, to
    every frontend attached to it (the one that asked, and any that reopened the chat since:
    a reloaded page follows the answer live)."""

    def __init__(self, send: Callable[[dict[str, Any]], None], request_id: str, chat: str, prompt: str) -> None:
        self.sinks, self.request_id, self.chat, self.prompt = [send], request_id, chat, prompt
        self.turn: Any = None
        self.finished = False  # the last message went out; set under _lock
        self._releases: list[Callable[[str], None]] = []  # the bridges that hold this ask let go at the end
        self.log: list[Any] = []  # the events so far (the history of a running ask)
        self.stopped, self.gone = threading.Event(), threading.Event()
        self._lock = threading.RLock()  # orders every message of this ask
        self._buffer: list[Any] = []  # events not sent yet
        self._timer: threading.Timer | None = None
        self._tool_id = ""
        self._approvals: dict[str, tuple[threading.Event, list[str], dict[str, Any]]] = {}

    def run(self, options: dict[str, Any]) -> None:
        """The worker: prepare, stream, answer with `result` (or `error` if it never started)."""
        try:
            from IPython import get_ipython

            from . import api
            from .tools import notebook  # noqa: F401  (slow: builds the tool schemas here, not on the main thread)

            shell = get_ipython()
            namespace = shell.user_ns if shell is not None else {}

            def prepare() -> Any:
                return api.prepare(self.prompt, chat=self.chat, namespace=namespace, approve=self.approve, **options)

            # `{name}` reads the user's variables, so it waits for the running cell like a tool.
            turn = run_on_main(prepare, PREPARE_WAIT) if "{" in self.prompt else prepare()
            if turn.runner is not None:
                runner = turn.runner
                runner.tools = {n: _on_main_thread(t, runner.timeout) for n, t in runner.tools.items()}
                runner.timeout = 0  # the wrapped tools keep their own limit
            self.turn = turn
            if self.stopped.is_set():
                turn.request.cancel.set()
            from .transcripts import recording

            with recording(turn, self.emit) as on_event:
                finished = turn.run(on_event)
            reply = {"type": "result", "request_id": self.request_id, "result": result_dict(finished)}
        except BaseException as exc:  # the worker must always answer, and never take the kernel down
            reply = {"type": "error", "request_id": self.request_id, "message": _face_message(exc)}
        with _busy_lock:  # free before the reply: a frontend may ask again the moment it has it
            if _busy.get(self.chat) is self:
                del _busy[self.chat]
        with self._lock:
            self._flush()
            self._send(reply)
            self.log = []
            self.finished = True
            releases, self._releases = self._releases, []
        for release in releases:
            release(self.request_id)

    def hold(self, release: Callable[[str], None]) -> bool:
        """Call `release(request_id)` once this ask has sent its last message; False (and no call)
        when it already has. A finished ask holds the turn, and through it the user's namespace:
        whoever keeps it must let it go."""
        with self._lock:
            if self.finished:
                return False
            self._releases.append(release)
            return True

    def emit(self, event: Any) -> None:
        """Turn.run's on_event: text deltas wait up to BATCH_SECONDS, boundaries flush at once."""
        if type(event) is ToolStart:
            self._tool_id = event.id
        with self._lock:
            self.log.append(event)
            self._buffer.append(event)
            if event.type in BOUNDARIES:
                self._flush()
            elif self._timer is None:  # the timer's messages keep this request as their parent
                self._timer = threading.Timer(BATCH_SECONDS, contextvars.copy_context().run, (self._flush,))
                self._timer.daemon = True
                self._timer.start()

    def _flush(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._buffer:
                events, self._buffer = self._buffer, []
                self._send({"type": "events", "request_id": self.request_id, "events": _wire(events)})

    def _send(self, message: dict[str, Any]) -> None:
        for sink in list(self.sinks):
            try:
                sink(message)
            except Exception:  # that frontend went away: the turn still finishes and is kept
                pass

    def attach(self, send: Callable[[dict[str, Any]], None], history: Callable[[dict[str, Any]], None]) -> bool:
        """Follow this ask from another frontend: `history(turn so far)` is called under the lock
        that orders the ask's messages, so the new frontend misses nothing and gets nothing twice;
        then its pending approvals are asked again there. False (and no call) when it has finished."""
        with self._lock:
            if self.finished:
                return False
            self._flush()  # the log holds the unsent batch too: send it first, or it would arrive twice
            history({"prompt": self.prompt, "request_id": self.request_id, "events": _wire(self.log),
                     "result": None})
            if send not in self.sinks:
                self.sinks.append(send)
            self.gone.clear()
            for _, _, message in list(self._approvals.values()):
                send(message)
        return True

    def detach(self, send: Callable[[dict[str, Any]], None]) -> None:
        """A frontend closed its comm; with none left, pending approvals are answered "no"."""
        with self._lock:
            if send in self.sinks:
                self.sinks.remove(send)
            if self.sinks:
                return
        self.stop(gone=True)

    def approve(self, tool: Any, arguments: dict[str, Any]) -> str:
        """The ToolRunner's approver: ask the frontend, wait (bounded) for its `approve`."""
        call_id, answered, box = self._tool_id, threading.Event(), []
        shown = approval_view(arguments)  # what runs, nothing hidden: the frontend shows this text as is
        message = {"type": "approval", "request_id": self.request_id, "call_id": call_id, "name": tool.name,
                   "arguments": _jsonable(arguments), "display": shown.display, "warning": shown.warning}
        with self._lock:
            self._approvals[call_id] = (answered, box, message)
            self._flush()
            self._send(message)
        if not (self.stopped.is_set() or self.gone.is_set()):
            answered.wait(APPROVAL_SECONDS)
        self._approvals.pop(call_id, None)
        return box[0] if box and not self.stopped.is_set() else "no"

    def answer(self, call_id: str, answer: str) -> None:
        pending = self._approvals.get(call_id)
        if pending is None:
            raise BridgeError(f"no approval is pending for call {call_id!r}")
        pending[1].append(answer)
        pending[0].set()

    def stop(self, gone: bool = False) -> None:
        """`stop`: cancel the stream; `gone` (comm closed): only refuse what waits for an answer."""
        (self.gone if gone else self.stopped).set()
        if self.turn is not None and not gone:
            self.turn.request.cancel.set()
        for answered, _, _ in list(self._approvals.values()):
            answered.set()


class Bridge:
    """One comm: serves the frontend's requests; `handle` is safe to call from any thread.

    It holds only the asks still running (for `stop`, `approve` and a reloaded page that follows
    one); a finished ask is let go at once, since it holds the turn and through it the user's
    namespace. Of finished asks only their ids are kept: a late `stop` is ignored, a late
    `approve` finds nothing pending, and an id is never used twice."""

    def __init__(self, send: Callable[[dict[str, Any]], None]) -> None:
        self._raw_send, self._send_lock = send, threading.Lock()
        self.asks: dict[str, _Ask] = {}  # running asks this comm started or follows
        self.finished: set[str] = set()  # request ids of this comm's finished asks

    def send(self, message: dict[str, Any]) -> None:
        with self._send_lock:
            self._raw_send(message)

    def close(self) -> None:
        """The comm closed: detach from every ask this frontend started or followed."""
        for ask in list(self.asks.values()):
            ask.detach(self.send)

    def _hold(self, ask: _Ask) -> None:
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
                self.send({"type": "error", "request_id": request_id, "message": _one_line(exc)})
            except Exception:
                pass

    def _reply(self, request_id: str, kind: str, **fields: Any) -> None:
        self.send(_jsonable({"type": kind, "request_id": request_id, **fields}))

    def _hello(self, request_id: str, data: dict[str, Any]) -> None:
        from .target import resolve_target

        _check_protocol(data.get("protocol", PROTOCOL))
        try:
            target = resolve_target(config=settings())
            provider, model = target.provider.name, target.model
        except Exception:  # not configured yet: the sidebar says so when it asks
            provider = model = None
        self._reply(request_id, "hello", protocol=PROTOCOL, version=__version__, kernel_id=_kernel_id(),
                    chats=conversations.names(), provider=provider, model=model)

    def _ask(self, request_id: str, data: dict[str, Any]) -> None:
        chat, prompt, options = _chat(data), data.get("prompt"), data.get("options") or {}
        if not isinstance(prompt, str) or not prompt.strip():
            raise BridgeError("'prompt' must be a non-empty string")
        if not isinstance(options, dict) or not set(options) <= ASK_OPTIONS:
            unknown = sorted(set(options) - ASK_OPTIONS) if isinstance(options, dict) else options
            raise BridgeError(f"unknown options {unknown}; allowed: {', '.join(sorted(ASK_OPTIONS))}")
        if request_id in self.asks or request_id in self.finished:
            raise BridgeError(f"request_id {request_id!r} was already used on this comm")
        _reopen_unseen(chat)  # asked before the view loaded the history: go on from the recorded chat
        ask = _Ask(self.send, request_id, chat, prompt)
        with _busy_lock:
            if chat in _busy:
                raise BridgeError(f"chat {chat!r} is busy: wait for its answer or stop it")
            _busy[chat] = ask
        self._hold(ask)
        context = contextvars.copy_context()  # the ask's messages keep this request as their parent
        threading.Thread(target=context.run, args=(ask.run, dict(options)), name=f"kimi_lab-ask-{request_id}",
                         daemon=True).start()

    def _find(self, data: dict[str, Any]) -> _Ask | None:
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
        if data.get("reopen"):
            with _busy_lock:
                if chat in _busy:
                    raise BridgeError(f"chat {chat!r} is answering: wait for it or stop it, then reopen it")
            from .reopen import reopen

            restored = reopen(chat)[1]
        else:
            restored = _reopen_unseen(chat)
        conv = conversations.get(chat)
        results = list(conv.results)
        turns = _turns(results)
        with _busy_lock:
            running = _busy.get(conv.name)
        if running is not None and not any(running.turn is not None and r is running.turn.result for r in results):
            # Still streaming: this frontend follows it from here on (stop and approve work too).
            self._hold(running)
            if running.attach(self.send, lambda turn: self._reply(request_id, "history", chat=conv.name,
                                                                  turns=[*turns, turn], restored=restored)):
                return
            turns = _turns(list(conv.results))  # it finished meanwhile: its turn is in the conversation now
        self._reply(request_id, "history", chat=conv.name, turns=turns, restored=restored)

    def _chats(self, request_id: str, data: dict[str, Any]) -> None:
        with _busy_lock:
            busy = set(_busy)
        self._reply(request_id, "chats", chats=[{"name": n, "turns": len(conversations.get(n).results),
                                                 "busy": n in busy} for n in conversations.names()])

    def _transcripts(self, request_id: str, data: dict[str, Any]) -> None:
        """Every chat that can be reopened: recorded ones (any kernel), then this kernel's others."""
        from .reopen import open_store

        store = open_store()
        with _busy_lock:
            busy = set(_busy)
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

        from .providers import merge_presets
        from .target import ENV_API_KEY

        providers = [{"name": p.name, "base_url": mask_url(p.base_url) if p.base_url else None, "model": p.model,
                      "dialect": p.dialect,
                      "key_env": p.key_env, "key_set": bool(p.key_env and os.environ.get(p.key_env)),
                      "needs_key": p.key_required,
                      "price": asdict(p.price) if p.price else None, "context": p.context,
                      "max_output": p.max_output} for p in merge_presets(settings().presets).values()]
        self._reply(request_id, "providers", providers=providers, fallback_key_env=ENV_API_KEY,
                    fallback_key_set=bool(os.environ.get(ENV_API_KEY)))

    def _models(self, request_id: str, data: dict[str, Any]) -> None:
        """The model ids a provider lists right now, Kimi first, for the model box. Read on a thread: a
        listing may take seconds, and the comm's handler runs on the kernel's shell thread."""
        provider = data.get("provider") or None
        if provider is not None and not isinstance(provider, str):
            raise BridgeError("'provider' must be a preset name")

        def fetch() -> None:
            from .api import preferred_model
            from .backends.listing import fetch_listing, kimi_first
            from .target import resolve_target

            try:
                cfg = settings()
                target = preferred_model(resolve_target(provider=provider, config=cfg), cfg)
                listing = fetch_listing(target, cfg)
                ids = [m.id for m in kimi_first(listing)]
                self._reply(request_id, "models", provider=target.provider.name, models=ids, chosen=target.model,
                            error=listing.error)
            except Exception as exc:
                self.send({"type": "error", "request_id": request_id, "message": _one_line(exc)})

        threading.Thread(target=fetch, name="kimi-lab-models", daemon=True).start()

    def _doctor(self, request_id: str, data: dict[str, Any]) -> None:
        """The sidebar's Check setup: `%kimi doctor`'s free checks (key, endpoint, model), on a thread; the
        two paid ones stay with `%kimi doctor -y` in a cell, which says what they cost."""
        provider = data.get("provider") or None
        if provider is not None and not isinstance(provider, str):
            raise BridgeError("'provider' must be a preset name")

        def check() -> None:
            from types import SimpleNamespace

            from .doctor import doctor

            try:
                table = doctor(SimpleNamespace(provider=provider, model=None, base_url=None, yes=False))
                self._reply(request_id, "doctor", text=table.text(), markdown=table.markdown(),
                            ok="everything works" in table.title)
            except Exception as exc:
                self.send({"type": "error", "request_id": request_id, "message": _one_line(exc)})

        threading.Thread(target=check, name="kimi-lab-doctor", daemon=True).start()

    def _export(self, request_id: str, data: dict[str, Any]) -> None:
        """The chat as Markdown: every recorded turn (across kernels), else this kernel's turns."""
        from .services import export_chat

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


def _reopen_unseen(chat: str) -> int:
    """A chat this kernel never saw (a fresh kernel, a restart) comes back from the transcripts
    file, once: how many turns came back."""
    with _reopen_lock:
        if conversations.has(chat):
            return 0
        from .reopen import reopen

        return reopen(chat)[1]


def _chat(data: dict[str, Any]) -> str:
    chat = data.get("chat") or default_chat()
    if not isinstance(chat, str):
        raise BridgeError("'chat' must be a string")
    return chat


def _kernel_id() -> str | None:
    """The id the Jupyter server gave this kernel: it names the connection file."""
    try:
        from ipykernel.connect import get_connection_file

        name = os.path.basename(get_connection_file())
    except Exception:
        return None
    return name.removeprefix("kernel-").removesuffix(".json")
