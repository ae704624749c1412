"""A running `ask` of the comm protocol: the turn in a worker thread, its events batched and sent,
in order, to every frontend that follows it, and its approvals waited for (bounded)."""

from __future__ import annotations

import contextvars
import threading
from typing import Any, Callable

from kimi_lab.common.events import ToolStart
from kimi_lab.core.session import session
from kimi_lab.faces.comm.mainthread import MainThreadBusy, run_on_main
from kimi_lab.faces.comm.messages import BridgeError, face_message, jsonable, result_dict, wire
from kimi_lab.tools.display_code import approval_view

__all__ = ["APPROVAL_SECONDS", "BATCH_SECONDS", "Ask", "between_cells"]

BATCH_SECONDS = 0.075  # text deltas wait at most this long; boundaries flush at once
APPROVAL_SECONDS = 600.0  # an unanswered approval is a "no" after this
PREPARE_WAIT = 60.0  # how long `{name}` interpolation waits for a running cell
BOUNDARIES = frozenset({"tool_start", "tool_end", "status", "done", "error"})


def between_cells(call: Callable[[], Any], limit: float) -> Any:
    """The tool runner's executor for asks from a comm: the call runs on the kernel's main thread,
    between cells (never beside a user's cell), under its limit; a cell that keeps the thread past
    the limit is a timeout, as a slow tool is."""
    from kimi_lab.tools.timeout import ToolTimeout, call_with_timeout

    try:
        return run_on_main(lambda: call_with_timeout(call, limit), limit)
    except MainThreadBusy as exc:
        raise ToolTimeout(str(exc)) from None


class Ask:
    """One `ask`: runs the turn in a worker thread and sends its events, batched, in order, to
    every frontend attached to it (the one that asked, and any that reopened the chat since:
    a reloaded page follows the answer live)."""

    def __init__(self, send: Callable[[dict[str, Any]], None], request_id: str, chat: str, prompt: str,
                 face: str = "the sidebar") -> None:
        self.sinks, self.request_id, self.chat, self.prompt = [send], request_id, chat, prompt
        self.face = face  # where it was asked, for "chat X is answering in the sidebar right now"
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

            from kimi_lab.services import ask as api
            from kimi_lab.tools import notebook  # noqa: F401  (slow: builds the tool schemas here, not on the main thread)

            shell = get_ipython()
            namespace = shell.user_ns if shell is not None else {}

            def prepare() -> Any:
                return api.prepare(self.prompt, chat=self.chat, namespace=namespace, approve=self.approve, owner=self,
                                   executor=between_cells, **options)

            # `{name}` reads the user's variables, so it waits for the running cell like a tool.
            turn = run_on_main(prepare, PREPARE_WAIT) if "{" in self.prompt else prepare()
            self.turn = turn
            if self.stopped.is_set():
                turn.request.cancel.set()
            from kimi_lab.store.recorder import recording

            with recording(turn, self.emit) as on_event:
                finished = turn.run(on_event)
            reply = {"type": "result", "request_id": self.request_id, "result": result_dict(finished)}
        except BaseException as exc:  # the worker must always answer, and never take the kernel down
            reply = {"type": "error", "request_id": self.request_id, "message": face_message(exc)}
        session().busy.release(self.chat, self)  # before the reply: a frontend may ask again the moment it has it
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
                self._send({"type": "events", "request_id": self.request_id, "events": wire(events)})

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
            history({"prompt": self.prompt, "request_id": self.request_id, "events": wire(self.log),
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
                   "arguments": jsonable(arguments), "display": shown.display, "warning": shown.warning}
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
