"""The chat panel's input box: a `<textarea>` where Enter sends and Shift+Enter adds a newline.

`ipywidgets.Textarea` sends no key events, so Enter-to-send needs a tiny front end of our own;
anywidget ships it inline (no extra labextension to build). Imported only by `ChatPanel`, so
`%load_ext kimi_lab` never pays for ipywidgets or anywidget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

__all__ = ["ChatInput"]

_ESM = r"""
const MAX_LINES = 10;

function render({ model, el }) {
  const box = document.createElement("textarea");
  box.className = "kimi-chat-input";
  box.rows = 2;
  el.classList.add("kimi-chat-input-host");
  el.appendChild(box);

  const grow = () => {
    const style = getComputedStyle(box);
    const line = parseFloat(style.lineHeight) || 1.4 * (parseFloat(style.fontSize) || 13);
    const pad = (parseFloat(style.paddingTop) || 0) + (parseFloat(style.paddingBottom) || 0);
    const border = (parseFloat(style.borderTopWidth) || 0) + (parseFloat(style.borderBottomWidth) || 0);
    box.style.height = "auto";
    const max = line * MAX_LINES + pad + border;
    const want = box.scrollHeight + border;  // scrollHeight has the padding, not the border
    box.style.height = Math.min(want, max) + "px";
    box.style.overflowY = want > max ? "auto" : "hidden";
  };
  const pull = () => {
    const value = model.get("value") ?? "";
    if (box.value !== value) box.value = value;
    box.placeholder = model.get("placeholder") ?? "";
    box.disabled = !!model.get("disabled");
    grow();
  };
  const push = () => {
    model.set("value", box.value);
    model.save_changes();
  };

  box.addEventListener("input", () => { push(); grow(); });
  // JupyterLab 4 cancels a line break typed inside a cell while a modifier's keydown is pending
  // (its guard for Shift+Enter = run cell), so the box inserts it itself; execCommand keeps undo.
  const newline = () => {
    if (!document.execCommand || !document.execCommand("insertText", false, "\n")) {
      box.setRangeText("\n", box.selectionStart, box.selectionEnd, "end");
      box.dispatchEvent(new Event("input", { bubbles: true }));
    }
  };

  box.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.isComposing || event.keyCode === 229) return;  // IME confirms
    event.stopPropagation();  // keep notebook shortcuts out of the box
    event.preventDefault();
    if (event.shiftKey) {
      newline();
      return;
    }
    const text = box.value;
    if (!text.trim()) return;
    if (model.get("busy")) {
      // An answer is running: the text stays where it is (nothing to lose in a round trip), and the
      // kernel is told so it can say why nothing was sent.
      model.send({ type: "busy" });
      return;
    }
    // Sent, then cleared here, so the empty box is the last state this side syncs (a clear from
    // the kernel could lose a race with keystroke updates the widget manager still holds back).
    // A busy panel sends the text back with `restore`.
    model.send({ type: "submit", value: text });
    box.value = "";
    push();
    grow();
  });
  // `clear`: the kernel took the text of the Send button; `restore`: it could not take the text
  // of an Enter now (an answer is running), so it goes back in the box unless something was typed.
  const onCustom = (msg) => {
    if (msg && msg.type === "clear") {
      box.value = "";
    } else if (msg && msg.type === "restore" && !box.value && typeof msg.value === "string") {
      box.value = msg.value;
    } else {
      return;
    }
    push();
    grow();
  };
  model.on("msg:custom", onCustom);
  model.on("change:value", pull);
  model.on("change:placeholder", pull);
  model.on("change:disabled", pull);
  pull();
  requestAnimationFrame(grow);  // sizes are known once the box is in the page
  return () => {
    model.off("msg:custom", onCustom);
    model.off("change:value", pull);
    model.off("change:placeholder", pull);
    model.off("change:disabled", pull);
  };
}

export default { render };
"""

_CSS = """
.kimi-chat-input-host { width: 100%; box-sizing: border-box; }
.kimi-chat-input {
  display: block;
  width: 100%;
  box-sizing: border-box;
  resize: none;
  padding: 4px 8px;
  line-height: 1.4;
  font-family: var(--jp-ui-font-family, var(--vscode-font-family, system-ui, sans-serif));
  font-size: var(--jp-ui-font-size1, var(--vscode-font-size, 13px));
  color: var(--jp-ui-font-color0, var(--vscode-input-foreground, #1f1f1f));
  background: var(--jp-layout-color1, var(--vscode-input-background, #fff));
  border: var(--jp-border-width, 1px) solid var(--jp-border-color1, var(--vscode-input-border, #bdbdbd));
  border-radius: 2px;
  outline: none;
}
.kimi-chat-input:focus {
  border-color: var(--jp-brand-color1, var(--vscode-focusBorder, #1976d2));
  box-shadow: inset 0 0 0 1px var(--jp-brand-color1, var(--vscode-focusBorder, #1976d2));
}
.kimi-chat-input::placeholder { color: var(--jp-ui-font-color3, var(--vscode-input-placeholderForeground, #8a8a8a)); }
.kimi-chat-input:disabled { opacity: 0.6; }
"""


class ChatInput(anywidget.AnyWidget):  # type: ignore[misc]
    """A text box whose Enter key submits; `value` follows the typing, so a Send button can read it."""

    _esm = _ESM
    _css = _CSS
    value = traitlets.Unicode("").tag(sync=True)
    placeholder = traitlets.Unicode("").tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)  # set by the panel while an answer runs: Enter keeps the text

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._submit_callbacks: list[Callable[[str], object]] = []
        self._busy_callbacks: list[Callable[[], object]] = []
        self.on_msg(self._on_frontend_msg)

    def on_submit(self, callback: Callable[[str], object], remove: bool = False) -> None:
        """Call `callback(text)` when the user presses Enter (without Shift) in the box."""
        if remove:
            self._submit_callbacks.remove(callback)
        else:
            self._submit_callbacks.append(callback)

    def on_busy_enter(self, callback: Callable[[], object]) -> None:
        """Call `callback()` when Enter is pressed while `busy` (the text stayed in the box)."""
        self._busy_callbacks.append(callback)

    def submit(self, text: str | None = None) -> None:
        """What Enter does: set `value` to `text` (default: the current value) and run the callbacks."""
        if text is not None:
            self.value = text
        for callback in list(self._submit_callbacks):
            callback(self.value)

    def clear(self) -> None:
        """Empty the box, here and in the browser (see the ESM: a plain `value = ""` could be
        overwritten by the last keystrokes' update arriving after the Enter)."""
        self.value = ""
        self.send({"type": "clear"})

    def restore(self, text: str) -> None:
        """Put `text` back in the box after an Enter that could not be taken now (the browser
        empties the box as it submits)."""
        self.value = text
        self.send({"type": "restore", "value": text})

    def _on_frontend_msg(self, _widget: Any, content: Any, _buffers: list[bytes]) -> None:
        if isinstance(content, dict) and content.get("type") == "submit":
            value = content.get("value")
            self.submit(value if isinstance(value, str) else None)
        elif isinstance(content, dict) and content.get("type") == "busy":
            for callback in list(self._busy_callbacks):
                callback()
