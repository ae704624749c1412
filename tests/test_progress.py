"""The map job's progress display: throttled redraws, the figures shown, log-friendly text, the widget."""

from __future__ import annotations

import io
import subprocess
import sys
from typing import Any

import pytest

from kimi_lab.render.progress import Progress, choose_kind, format_duration


class FakeClock:
    """Starts far from zero, as time.monotonic does, so an elapsed time must be measured from the start."""

    def __init__(self, start: float = 5_000.0) -> None:
        self.start = self.now = start

    def __call__(self) -> float:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = self.start + seconds


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def counts(done: int = 0, failed: int = 0, in_flight: int = 0, tokens: int = 0,
           cost: float | None = 0.0) -> dict[str, Any]:
    return {"done": done, "failed": failed, "in_flight": in_flight, "tokens": tokens, "cost": cost}


def text_progress(total: int = 500, *, tty: bool = True, **kw: Any) -> tuple[Progress, FakeClock, io.StringIO]:
    clock, stream = FakeClock(), (Terminal() if tty else io.StringIO())
    return Progress(total, kind="text", clock=clock, stream=stream, **kw), clock, stream


def test_at_most_four_redraws_a_second_by_default() -> None:
    p, clock, _ = text_progress()
    drew = []
    for i in range(100):
        clock.at(i / 100)
        drew.append(p.update(**counts(done=i)))
    assert 2 <= p.redraws <= 4
    assert sum(drew) == p.redraws - 1  # the construction drew the first; update says True exactly when it drew


def test_force_always_redraws() -> None:
    p, _, _ = text_progress()
    before = p.redraws
    assert all(p.update(**counts(done=i), force=True) for i in range(10))
    assert p.redraws == before + 10


def test_text_line_shows_every_figure_and_the_eta() -> None:
    p, clock, stream = text_progress(500)
    assert "ETA —" in stream.getvalue()  # no row finished yet: no rate to estimate from
    clock.at(30.0)
    p.update(**counts(done=120, failed=3, in_flight=8, tokens=1_245_210, cost=0.0123), force=True)
    line = stream.getvalue().split("\r")[-1]
    for shown in ("kimi_lab.map", "120/500 rows (24%)", "3 failed", "8 in flight", "1,245,210 tokens", "$0.0123",
                  "0:30 elapsed", "ETA 1:35"):  # 120 rows in 30 s: 4 rows/s, 380 left → 95 s
        assert shown in line
    assert "\n" not in stream.getvalue()  # a terminal line is rewritten in place


def test_cost_formats() -> None:
    p, _, stream = text_progress(2_000)
    p.update(**counts(done=1_500, cost=None), force=True)
    assert "cost unknown" in stream.getvalue().split("\r")[-1]
    p.update(**counts(done=1_600, cost=1234.5), force=True)
    line = stream.getvalue().split("\r")[-1]
    assert "$1,234.50" in line and "1,600/2,000 rows (80%)" in line


def test_durations() -> None:
    assert format_duration(0) == "0:00"
    assert format_duration(95) == "1:35"
    assert format_duration(3_725) == "1:02:05"


def test_a_log_gets_a_new_line_at_most_every_five_seconds() -> None:
    p, clock, stream = text_progress(10_000, tty=False)
    for i in range(1, 121):  # 12 s of updates, ten a second
        clock.at(i / 10)
        p.update(**counts(done=i))
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert len(lines) == 3  # at 0 s (construction), 5 s and 10 s
    assert "50/10,000 rows" in lines[1] and "100/10,000 rows" in lines[2]


def test_close_is_idempotent_and_prints_the_message() -> None:
    p, clock, stream = text_progress(500)
    clock.at(10.0)
    p.update(**counts(done=500, failed=3, tokens=9_000, cost=0.5))
    p.close("done: 500 rows, 3 failed")
    redraws, out = p.redraws, stream.getvalue()
    p.close("done: 500 rows, 3 failed")
    assert not p.update(**counts(done=500), force=True)
    assert (p.redraws, stream.getvalue()) == (redraws, out)
    assert out.endswith("— done: 500 rows, 3 failed\n") and out.count("done: 500 rows") == 1
    final = out.split("\r")[-1]
    assert "500/500 rows (100%)" in final and "3 failed" in final and "ETA" not in final


def test_close_on_a_log_prints_one_more_line() -> None:
    p, clock, stream = text_progress(10, tty=False)
    clock.at(1.0)
    p.update(**counts(done=4))  # throttled: within 5 s of the first line
    p.close("stopped: max_cost $5.00 reached")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and lines[1].endswith("stopped: max_cost $5.00 reached") and "4/10 rows" in lines[1]


def test_none_draws_nothing() -> None:
    stream = Terminal()
    p = Progress(5, kind="none", clock=FakeClock(), stream=stream)
    assert not p.update(**counts(done=1), force=True)
    p.close("done")
    assert p.redraws == 0 and stream.getvalue() == ""


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    import IPython.display

    calls: list[Any] = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: calls.extend(objs))
    return calls


def widget_progress(total: int = 10, title: str = "kimi_lab.map") -> tuple[Progress, FakeClock]:
    clock = FakeClock()
    return Progress(total, kind="widget", clock=clock, title=title), clock


def test_widget_shows_a_bar_and_a_label(shown: list[Any]) -> None:
    import ipywidgets

    p, clock = widget_progress(1_000)
    [box] = shown
    bar, label = box.children
    assert isinstance(box, ipywidgets.HBox) and isinstance(bar, ipywidgets.IntProgress)
    assert isinstance(label, ipywidgets.HTML)
    assert (bar.min, bar.max, bar.value, bar.bar_style) == (0, 1_000, 0, "")
    clock.at(20.0)
    assert p.update(**counts(done=400, failed=0, in_flight=4, tokens=12_000, cost=0.25))
    assert bar.value == 400
    for figure in ("400/1,000 rows (40%)", "4 in flight", "12,000 tokens", "$0.2500", "ETA 0:30"):
        assert figure in label.value
    p.close("done: 1,000 rows, 0 failed")
    assert bar.bar_style == "success" and "done: 1,000 rows, 0 failed" in label.value
    assert len(shown) == 1  # updated in place, never displayed twice


@pytest.mark.parametrize(("failed", "message"), [(2, "done: 10 rows, 2 failed"), (0, "stopped: interrupted")])
def test_widget_turns_red_on_failures_or_a_stop(shown: list[Any], failed: int, message: str) -> None:
    p, _ = widget_progress(10)
    p.update(**counts(done=10, failed=failed))
    p.close(message)
    assert shown[0].children[0].bar_style == "danger"


def test_widget_escapes_the_title_and_message(shown: list[Any]) -> None:
    p, _ = widget_progress(3, title="<script>alert(1)</script> & co")
    p.close("stopped: <b>x</b>")
    label = shown[0].children[1].value
    assert "<script>" not in label and "<b>x</b>" not in label
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in label and "&lt;b&gt;x&lt;/b&gt;" in label


def test_auto_picks_text_outside_a_kernel_and_the_widget_inside(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython

    class Shell:
        pass

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert choose_kind("auto") == "text"
    assert Progress(1, clock=FakeClock(), stream=io.StringIO()).kind == "text"
    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())  # a terminal IPython: no kernel, no frontend
    assert choose_kind("auto") == "text"
    Shell.kernel = object()  # type: ignore[attr-defined]
    assert choose_kind("auto") == "widget"
    with pytest.raises(ValueError, match="progress kind"):
        choose_kind("bar")


def test_importing_does_not_import_ipywidgets() -> None:
    code = ("import sys, io, kimi_lab, kimi_lab.render.progress as p; "
            "p.Progress(3, kind='text', stream=io.StringIO()).close('done'); "
            "print('ipywidgets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
