"""`kimi_lab.chat()`: a chat panel (ipywidgets) inside a notebook.

The panel is one more frontend of the comm protocol (docs/sidebar-protocol.md): it drives a
`Bridge` directly instead of through a comm, so it gets the same batched events, approvals,
stop, and tools run on the kernel's main thread between cells. The model call runs in a
worker thread, so the kernel stays free for other cells while Kimi thinks.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from kimi_lab.common.events import event_from_dict
from kimi_lab.core.timeline import Timeline
from kimi_lab.render.answer import answer_bundle, format_cost, live_html
from kimi_lab.tools.approval import approval_html

__all__ = ["ChatPanel", "chat"]

TOOL_CHOICES = ("auto", "data", "none", "+code")
PLACEHOLDER = "Ask Kimi… ({name} puts in a notebook variable)"
NO_ANYWIDGET = "Enter-to-send needs anywidget: pip install anywidget (Send button works)"
_hinted = False  # the hint above shows in the first panel only, not in every one


class _TurnView:
    """One question and its answer in the panel, folded from protocol messages."""

    def __init__(self, widgets: Any, prompt: str, show_reasoning: bool) -> None:
        self.timeline = Timeline()
        self.show_reasoning = show_reasoning
        self.live = widgets.HTML()
        self.approvals = widgets.VBox()
        self.answer = widgets.Output()
        question = widgets.HTML(f"<b>You:</b> {_escape(prompt)}")
        self.box = widgets.VBox([question, self.live, self.approvals, self.answer])
        self.redraws = 0

    def apply(self, event: dict[str, Any]) -> None:
        self.timeline.apply(event_from_dict(event))

    def redraw(self, elapsed: float) -> None:
        t = self.timeline
        self.live.value = live_html(t.steps, t.answer, elapsed=elapsed, answering=t.answering,
                                    show_reasoning=self.show_reasoning, notes=[])
        self.redraws += 1

    def finish(self, result: dict[str, Any]) -> None:
        self.live.layout.display = "none"
        self.answer.outputs = ({
            "output_type": "display_data",
            "data": answer_bundle(result["markdown"], result["content"]),
            "metadata": {},
        },)


def _escape(text: str) -> str:
    import html

    return html.escape(text).replace("\n", "<br>")


class ChatPanel:
    """Message history, input (Enter sends, Shift+Enter newline), Send / Stop, provider / model /
    tools choice, live answers with their reasoning beside them, approval buttons, and the
    conversation's tokens and cost."""

    def __init__(self, chat: str | None = None, *, provider: str | None = None, model: str | None = None,
                 tools: str = "auto", reasoning: bool = True) -> None:
        import ipywidgets as widgets

        from kimi_lab.core.conversation import default_chat
        from kimi_lab.faces.comm.dispatch import Bridge
        from kimi_lab.settings.config import settings
        from kimi_lab.settings.providers import merge_presets

        self.chat = chat or default_chat()
        self.reasoning = reasoning
        self._w = widgets
        self.bridge = Bridge(self._receive, face="the chat panel")
        self.request_id: str | None = None
        self.turn: _TurnView | None = None
        self.idle = threading.Event()
        self.idle.set()
        self._started = 0.0
        self._models_request = ""
        presets = ["(auto)", *merge_presets(settings().presets)]
        self.provider = widgets.Dropdown(options=presets, value=provider or "(auto)", description="provider")
        # a combo box: any id may be typed; the provider's listed models are offered (filled as they arrive)
        self.model = widgets.Combobox(value=model or "", placeholder="the provider's default", description="model",
                                      options=[], ensure_option=False)
        self.tools = widgets.Dropdown(options=TOOL_CHOICES, value=tools, description="tools")
        self.history = widgets.VBox()
        self.input, hint = _input_box(widgets)
        if hasattr(self.input, "on_submit"):
            self.input.on_submit(self._on_enter)
            self.input.on_busy_enter(self._say_busy)
        self.send_button = widgets.Button(description="Send", button_style="primary", icon="paper-plane")
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True)
        self.footer = widgets.HTML()
        self.notice = widgets.HTML(f"<small>{_escape(hint)}</small>" if hint else "")
        self.send_button.on_click(lambda _: self.send())
        self.stop_button.on_click(lambda _: self.stop())
        header = widgets.HBox([self.provider, self.model, self.tools])
        self.provider.observe(lambda _: self._list_models(), names="value")
        self._list_models()
        controls = widgets.HBox([self.send_button, self.stop_button])
        self.widget = widgets.VBox([header, self.history, self.notice, self.input, controls, self.footer])
        self._show_earlier_turns()
        self._update_footer()

    def _show_earlier_turns(self) -> None:
        """The chat's turns so far (from `%%kimi --chat`, another panel, or `%kimi reopen`)."""
        from kimi_lab.core.session import session
        from kimi_lab.faces.comm.messages import result_dict

        conv = session().conversations.get(self.chat)
        with conv.lock:
            results = list(conv.results)
        views = []
        for result in results:
            view = _TurnView(self._w, result.prompt, self.reasoning)
            view.finish(result_dict(result))
            views.append(view.box)
        self.history.children = tuple(views)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # -- actions -------------------------------------------------------------------------

    def send(self, prompt: str | None = None) -> str | None:
        """Ask the text in the input box (or `prompt`); returns the request id, None if busy/empty."""
        text = (prompt if prompt is not None else self.input.value).strip()
        if not text or not self.idle.is_set():
            return None
        import time

        if hasattr(self.input, "clear"):
            self.input.clear()
        else:
            self.input.value = ""
        self.notice.value = ""
        self._set_busy(True)
        self.idle.clear()
        self._started = time.perf_counter()
        self.request_id = uuid.uuid4().hex
        self.turn = _TurnView(self._w, text, self.reasoning)
        self.history.children = (*self.history.children, self.turn.box)
        self.send_button.disabled, self.stop_button.disabled = True, False
        options: dict[str, Any] = {"tools": self.tools.value, "reasoning": self.reasoning}
        if self.provider.value != "(auto)":
            options["provider"] = self.provider.value
        if self.model.value.strip():
            options["model"] = self.model.value.strip()
        self._handle({"type": "ask", "request_id": self.request_id, "chat": self.chat, "prompt": text,
                      "options": options})
        return self.request_id

    def _on_enter(self, text: str) -> None:
        if self.send(text) is None and text.strip():  # busy (the box did not know yet): the text goes back
            if hasattr(self.input, "restore"):
                self.input.restore(text)
            self._say_busy()

    def _say_busy(self) -> None:
        self.notice.value = ("<small>Kimi is still answering: your text stays in the box; press Enter again "
                             "when the answer is done, or Stop it.</small>")

    def _set_busy(self, busy: bool) -> None:
        if hasattr(self.input, "busy"):
            self.input.busy = busy

    def stop(self) -> None:
        if self.request_id is not None and not self.idle.is_set():
            self._handle({"type": "stop", "request_id": self.request_id})

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until the current answer is complete (for scripts and tests)."""
        return self.idle.wait(timeout)

    def _handle(self, data: dict[str, Any]) -> None:
        self.bridge.handle({"content": {"data": data}})

    # -- what the kernel side sends --------------------------------------------------------

    def _list_models(self) -> None:
        """Ask the bridge what the chosen provider lists; the reply fills the model box's options."""
        self._models_request = f"models-{id(self)}-{self.provider.value}"
        data: dict[str, Any] = {"type": "models", "request_id": self._models_request}
        if self.provider.value != "(auto)":
            data["provider"] = self.provider.value
        self.bridge.handle({"content": {"data": data}})

    def _receive(self, message: dict[str, Any]) -> None:
        import time

        if message.get("request_id") == self._models_request:  # no list (an error): free text only
            listed = message.get("models") if message.get("type") == "models" else None
            self.model.options = [m for m in listed or [] if isinstance(m, str)]
            return
        kind, turn = message.get("type"), self.turn
        if message.get("request_id") != self.request_id or turn is None:
            return
        if kind == "events":
            for event in message["events"]:
                turn.apply(event)
            turn.redraw(time.perf_counter() - self._started)
        elif kind == "approval":
            self._ask_approval(turn, message)
        elif kind == "result":
            turn.approvals.children = ()
            turn.finish(message["result"])
            self._done()
        elif kind == "error":
            self.notice.value = f"<span style='color:#c00'>⚠ {_escape(message.get('message', ''))}</span>"
            self._done()

    def _ask_approval(self, turn: _TurnView, message: dict[str, Any]) -> None:
        w = self._w
        label = w.HTML(approval_html(str(message.get("name", "?")), message.get("arguments")))
        buttons = [w.Button(description=d, button_style=s) for d, s in
                   (("Allow", "success"), ("Deny", "danger"), ("Always allow this session", ""))]
        card = w.VBox([label, w.HBox(buttons)])

        def answer(value: str) -> None:
            for b in buttons:
                b.disabled = True
            self._handle({"type": "approve", "request_id": self.request_id, "call_id": message.get("call_id"),
                          "answer": value})

        for button, value in zip(buttons, ("yes", "no", "always"), strict=True):
            button.on_click(lambda _, v=value: answer(v))
        turn.approvals.children = (*turn.approvals.children, card)

    def _done(self) -> None:
        self.send_button.disabled, self.stop_button.disabled = False, True
        if "still answering" in self.notice.value:
            self.notice.value = ""  # the note was about the answer that just ended
        self._set_busy(False)
        self._update_footer()
        self.idle.set()

    def _update_footer(self) -> None:
        from kimi_lab.core.session import session

        conv = session().conversations.get(self.chat)
        u = conv.usage
        n = len(conv.results)
        self.footer.value = (f"<small>chat <b>{_escape(self.chat)}</b> · {n} answer{'' if n == 1 else 's'} · "
                             f"{u.prompt:,} in / {u.completion:,} out tokens · {format_cost(conv.cost)}</small>")


def _input_box(widgets: Any) -> tuple[Any, str]:
    """The input box (Enter sends) and a one-time hint to show when anywidget is missing."""
    global _hinted
    layout = widgets.Layout(width="100%")
    try:
        from kimi_lab.faces.widget.chat_input import ChatInput
    except ImportError:
        hint = "" if _hinted else NO_ANYWIDGET
        _hinted = True
        return widgets.Textarea(placeholder=PLACEHOLDER, layout=layout), hint
    return ChatInput(placeholder=PLACEHOLDER, layout=layout), ""


def chat(name: str | None = None, **options: Any) -> ChatPanel:
    """A chat panel on conversation `name` (shared with `%%kimi --chat NAME`); by default the
    notebook's own chat, which its cells and its sidebar use."""
    return ChatPanel(name, **options)
