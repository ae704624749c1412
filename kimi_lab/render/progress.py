"""The progress display of a `kimi_lab.map` job: a widget bar in a notebook, one line in a terminal.

A map job runs thousands of requests; the engine reports its counts from the cell's thread as often
as it likes, and this class decides when drawing is worth it (at most one redraw per `min_interval`,
a new log line at most every few seconds when stderr is a file). It owns no thread and never sleeps:
time comes only from `clock`, so tests drive it with a fake one. ipywidgets is imported only when a
widget is drawn, so importing kimi_lab stays cheap.
"""

from __future__ import annotations

import html
import importlib.util
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, TextIO

from kimi_lab.render.answer import format_cost

__all__ = ["KINDS", "LOG_INTERVAL", "Progress", "choose_kind", "format_duration"]

KINDS = ("auto", "widget", "text", "none")
LOG_INTERVAL = 5.0  # seconds between lines when the stream is a log, not a terminal: a CI log stays readable


def choose_kind(kind: str = "auto") -> str:
    """"widget" inside a Jupyter kernel that can import ipywidgets, else "text" (what tqdm.auto picks).

    A plain IPython terminal has no frontend to draw a widget, hence the check for a kernel."""
    if kind not in KINDS:
        raise ValueError(f"progress kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind != "auto":
        return kind
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return "text"
    shell = get_ipython()
    if shell is not None and hasattr(shell, "kernel") and importlib.util.find_spec("ipywidgets") is not None:
        return "widget"
    return "text"


def format_duration(seconds: float) -> str:
    """`m:ss`, or `h:mm:ss` past an hour: the clock format people read at a glance."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class _Counts:
    done: int = 0
    failed: int = 0
    in_flight: int = 0
    tokens: int = 0
    cost: float | None = 0.0  # nothing spent before the first update


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream: treat as a log
        return False


class Progress:
    """Rows done of `total`, failures, requests in flight, tokens, cost, elapsed time and ETA.

    Call `update` as often as convenient (every finished row is fine): it redraws at most once per
    `min_interval` unless `force`. `close` draws the totals with a closing message. Calls come from
    one thread (the cell's); the workers never touch this object."""

    redraws: int

    def __init__(self, total: int, *, kind: str = "auto", min_interval: float = 0.25, title: str = "kimi_lab.map",
                 clock: Callable[[], float] = time.monotonic, stream: TextIO | None = None, start: int = 0) -> None:
        """`start`: rows already done when the job begins (a resumed job's saved rows), left out of the ETA's rate."""
        self.total = max(0, total)
        self.start = max(0, start)
        self.kind = choose_kind(kind)
        self.title = title
        self.min_interval = max(0.0, min_interval)
        self.clock = clock
        self.stream = stream if stream is not None else sys.stderr
        self.redraws = 0
        self.closed = False
        self.counts = _Counts(done=self.start)
        self.tty = self.kind == "text" and _is_tty(self.stream)
        # a log gets a new line per draw, so it is drawn far less often than a line rewritten in place
        self._interval = self.min_interval if self.kind != "text" or self.tty else max(self.min_interval, LOG_INTERVAL)
        self._started = clock()
        self._last_draw: float | None = None
        self._width = 0  # length of the line last written with `\r`, to blank what a shorter line leaves
        self._bar: Any = None
        self._label: Any = None
        self._draw(self._started)  # the bar appears at once: the first answer may take seconds

    # -- what is shown ---------------------------------------------------------------------------

    def eta(self, now: float) -> float | None:
        """Seconds left at the rate of rows done so far in this run; None before any row finishes."""
        done = self.counts.done - self.start
        if done <= 0:
            return None
        return max(0, self.total - self.counts.done) * (now - self._started) / done

    def parts(self, now: float, *, final: bool = False) -> list[str]:
        """The figures after the title, in the order shown (the closing line drops the ETA)."""
        c = self.counts
        percent = min(c.done, self.total) * 100 // self.total if self.total else 100
        parts = [
            f"{c.done:,}/{self.total:,} rows ({percent}%)",
            f"{c.failed:,} failed",
            f"{c.in_flight:,} in flight",
            f"{c.tokens:,} tokens",
            format_cost(c.cost),
            f"{format_duration(now - self._started)} elapsed",
        ]
        if not final:
            eta = self.eta(now)
            parts.append("ETA —" if eta is None else f"ETA {format_duration(eta)}")
        return parts

    def line(self, now: float, message: str = "") -> str:
        """The plain-text line: title, figures, and the closing message if any."""
        text = f"{self.title}  " + " · ".join(self.parts(now, final=bool(message)))
        return f"{text} — {message}" if message else text

    def label_html(self, now: float, message: str = "") -> str:
        """The widget's label: the same words as `line`, every one escaped (titles and messages are ours
        to show, not to interpret)."""
        figures = html.escape(" · ".join(self.parts(now, final=bool(message))))
        text = f"<b>{html.escape(self.title)}</b>&nbsp; {figures}"
        return f"{text} — {html.escape(message)}" if message else text

    # -- the engine's calls ----------------------------------------------------------------------

    def update(self, *, done: int, failed: int, in_flight: int, tokens: int, cost: float | None,
               force: bool = False) -> bool:
        """Redraw if at least min_interval passed since the last redraw (or force); True when it redrew."""
        if self.closed:
            return False
        self.counts = _Counts(done, failed, in_flight, tokens, cost)
        now = self.clock()
        if not force and self._last_draw is not None and now - self._last_draw < self._interval:
            return False
        return self._draw(now)

    def close(self, message: str) -> None:
        """Final redraw with the totals and `message` (e.g. "done: 500 rows, 3 failed" or
        "stopped: max_cost $5.00 reached"); idempotent, so an engine may call it from `finally` too."""
        if self.closed:
            return
        self.closed = True
        self._draw(self.clock(), message)

    # -- drawing -----------------------------------------------------------------------------------

    def _draw(self, now: float, message: str = "") -> bool:
        if self.kind == "none":
            return False
        if self.kind == "widget":
            self._draw_widget(now, message)
        elif self.tty:
            self._rewrite(now, message)
        else:
            self.stream.write(self.line(now, message) + "\n")
            self.stream.flush()
        self._last_draw = now
        self.redraws += 1
        return True

    def _rewrite(self, now: float, message: str) -> None:
        """One terminal line rewritten in place; padded so a shorter line leaves no tail behind."""
        text = self.line(now, message)
        pad = " " * max(0, self._width - len(text))
        self._width = len(text)
        self.stream.write("\r" + text + pad + ("\n" if message else ""))
        self.stream.flush()

    def _draw_widget(self, now: float, message: str) -> None:
        if self._bar is None:
            import ipywidgets as widgets
            from IPython.display import display

            self._bar = widgets.IntProgress(value=0, min=0, max=max(1, self.total))
            self._label = widgets.HTML()
            display(widgets.HBox([self._bar, self._label]))
        self._bar.value = min(self.counts.done, self.total) if self.total else (1 if message else 0)
        self._label.value = self.label_html(now, message)
        if message:
            stopped = self.counts.failed > 0 or message.startswith("stopped")
            self._bar.bar_style = "danger" if stopped else "success"
