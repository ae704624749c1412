"""Approval prompts show exactly what runs: hidden characters made visible, lines numbered as
Python numbers them, a warning when the call hides anything (issue 9, point 6)."""

from __future__ import annotations

import ast
import html
import json
import re
import sys

import pytest

from kimi_lab.render.answer import call_signature
from kimi_lab.testing import Reply, ToolCall
from kimi_lab.tools.approval import approval_html, approval_prompt, stdin_approver
from kimi_lab.tools.display_code import approval_view, code_lines, hidden_characters, visible, visible_code
from kimi_lab.tools.notebook import BUILTIN_TOOLS

RUN_PYTHON = BUILTIN_TOOLS["run_python"]

# Each character class that makes a display differ from what runs, with the token it must show as.
HIDDEN = {
    "\r": "␍",  # carriage return: the next text overwrites the shown line
    "\x1b": "␛",  # ESC: starts ANSI sequences (erase line, cursor up, invisible colours)
    "\b": "␈", "\x7f": "␡", "\x00": "␀", "\x07": "␇",  # C0 controls and DEL
    "\x0c": "␌", "\x0b": "␋",  # form feed, vertical tab: line breaks to some displays, not to Python
    "\x85": "<U+0085>", "\x9b": "<U+009B>",  # C1: NEXT LINE, and the one-byte CSI
    **{chr(c): f"<U+{c:04X}>" for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]},
    **{chr(c): f"<U+{c:04X}>" for c in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD)},  # zero-width
    "\u2028": "<U+2028>", "\u2029": "<U+2029>",  # line / paragraph separator
    "\u00a0": "<U+00A0>", "\u3000": "<U+3000>",  # spaces that are not U+0020
    "\u3164": "<U+3164>",  # Hangul filler: blank, and a valid identifier character
    "\U000e0041": "<U+E0041>",  # tag characters (invisible "ASCII smuggling")
    "\ufe00": "<U+FE00>", "\U000e0100": "<U+E0100>",  # variation selectors
    "\ue000": "<U+E000>", "\ud800": "<U+D800>",  # private use; a lone surrogate (JSON can carry one)
}

SPOOF = (
    "reviews.describe()\r"  # a terminal or output area shows this line ...
    "open('notes.txt', 'w').write('pwned')  \r"  # ... overwritten by nothing: CR hides the line
    "\x1b[2K\x1b[1Areviews.describe()\n"  # erase it, go up, show the harmless line again
    "x = 'safe' # \u202e\u2066 ;)'1'(metsys.so\u2069\u2066\n"  # Trojan Source: reordered on screen
)


def screen(text: str) -> list[str]:
    """What a terminal (or a JupyterLab output area) shows for `text`: carriage return, backspace,
    ESC[2K (erase line), ESC[1A (cursor up), other ESC[...m colours dropped."""
    lines, row, col = [""], 0, 0
    for token in re.findall(r"\x1b\[[0-9;]*[A-Za-z]|.", text, re.DOTALL):
        line = lines[row]
        if token == "\r":
            col = 0
        elif token == "\n":
            row, col = row + 1, 0
            lines += [""] * (row + 1 - len(lines))
        elif token == "\b":
            col = max(0, col - 1)
        elif token == "\x1b[2K":
            lines[row] = ""
        elif token == "\x1b[1A":
            row = max(0, row - 1)
        elif token.startswith("\x1b"):
            pass
        else:
            lines[row] = line[:col].ljust(col) + token + line[col + 1:]
            col += 1
    return lines


def test_the_screen_model_shows_the_attack_on_raw_text() -> None:
    """The old prompt printed the code raw: on screen, the file-writing line is gone."""
    shown = "\n".join(screen(SPOOF))
    assert "open(" not in shown and "reviews.describe()" in shown


@pytest.mark.parametrize("char", list(HIDDEN), ids=[f"U+{ord(c):04X}" for c in HIDDEN])
def test_every_hidden_character_is_shown_as_a_token_and_named(char: str) -> None:
    code = f"a = 1 {char}b\nc = 2"
    shown = visible_code(code)
    assert char not in shown and HIDDEN[char] in shown
    assert not hidden_characters(shown.replace("\n", "")), "the display itself hides nothing"
    assert set(shown) & set("\r\x1b\x0b\x0c\x85\u2028\u2029") == set()
    view = approval_view({"code": code})
    assert view.warning is not None and HIDDEN[char] in view.warning and "line 1" in view.warning
    json.dumps(view.display).encode("utf-8")  # printable and sendable: no lone surrogate left


def test_plain_code_is_shown_numbered_and_unchanged_without_a_warning() -> None:
    code = "total = sales['units'].sum()\n\tprint('é ✓ 数据', total)\nif total:\n    total * 2\n"
    view = approval_view({"code": code})
    assert view.warning is None
    assert view.display == ("1 │ total = sales['units'].sum()\n2 │ \tprint('é ✓ 数据', total)\n3 │ if total:\n"
                            "4 │     total * 2")


def test_an_emoji_presentation_selector_is_not_flagged_but_any_other_selector_is() -> None:
    assert approval_view({"code": "print('\u26a0\ufe0f done \u2714\ufe0e')"}).warning is None
    assert visible("\u26a0\ufe0f") == "\u26a0\ufe0f"
    assert visible("a\ufe0f") == "a<U+FE0F>", "after ASCII it selects nothing: it hides"
    assert visible("⚠\ufe0f\ufe0f") == "⚠\ufe0f<U+FE0F>", "a second selector carries hidden bits"


def _lines_of(shown: str) -> dict[int, str]:
    out = {}
    for line in shown.split("\n"):
        number, _, text = line.partition(" │")
        out[int(number)] = text.removeprefix(" ")
    return out


@pytest.mark.parametrize("breaks", [
    ["\n", "\n", "\n"], ["\r\n", "\r", "\n"], ["\r", "\r\r\n", "\n\n"], ["\n\x0c", "\n", "\r\n\r\n"],
])
def test_line_numbers_are_the_ones_python_runs_with(breaks: list[str]) -> None:
    """Each statement records the line Python executes it on; the display shows it on that line."""
    code = "a = where()" + breaks[0] + "b = where()" + breaks[1] + "c = 'x\u2028y'; d = where()" + breaks[2] + \
        "e = where()"
    namespace = {"where": lambda: sys._getframe(1).f_lineno}
    exec(compile(code, "<test>", "exec"), namespace)
    shown = _lines_of(visible_code(code))
    for name in "abde":
        assert f"{name} = where()" in shown[namespace[name]], (name, namespace[name], shown)
    assert len(code_lines(code)) == max(n.lineno for n in ast.walk(ast.parse(code)) if hasattr(n, "lineno"))


def test_the_second_line_on_screen_can_be_pythons_line_3_and_the_display_says_so() -> None:
    """`\\r\\r\\n` looks like one line break on screen; Python counts two. Form feed and U+2028 look
    like breaks to some displays (and to str.splitlines) but Python does not count them."""
    code = "reviews.describe()\r\r\nerror = 1 / 0  # see\u2028\x0cbelow"
    assert screen(code)[1].startswith("error"), "on screen: the second line"
    with pytest.raises(ZeroDivisionError) as info:
        exec(compile(code, "<test>", "exec"), {"reviews": type("R", (), {"describe": lambda: None})})
    assert info.traceback[-1].lineno + 1 == 3, "Python: line 3"
    shown = _lines_of(visible_code(code))
    assert shown == {1: "reviews.describe()␍", 2: "", 3: "error = 1 / 0  # see<U+2028>␌below"}


def test_other_arguments_are_shown_in_full_one_per_line_and_named_in_the_warning() -> None:
    long = "x" * 5_000
    view = approval_view({"path": "notes\u200b.txt", "mode": "w\x1b[8m", "body": long})
    assert view.display == f'path = "notes<U+200B>.txt"\nmode = "w\\u001b[8m"\nbody = "{long}"'
    assert view.warning is not None
    assert "ZERO WIDTH SPACE <U+200B> (in path)" in view.warning and "ESCAPE \\u001b (in mode)" in view.warning
    both = approval_view({"target": "prod", "code": "deploy()\r"})
    assert both.display == 'target = "prod"\ncode =\n1 │ deploy()␍'


def test_call_signatures_on_tool_cards_hide_nothing() -> None:
    line = call_signature("write_file", {"path": "a\u202etxt.exe", "note": "ok\u200b"})
    assert line == 'write_file(path="a<U+202E>txt.exe", note="ok<U+200B>")'


SPOOF_CALL = {"code": SPOOF}


def _check_shown(printed: str) -> None:
    """What the user sees, on a terminal's screen: every line that runs, numbered, and a warning."""
    assert not set(printed) & {"\r", "\x1b", "\u202e", "\u2066", "\u2069"}
    shown = screen(printed)
    assert "2 │ open('notes.txt', 'w').write('pwned')  ␍" in shown
    assert "3 │ ␛[2K␛[1Areviews.describe()" in shown
    assert any(line.startswith("⚠ ") and "CARRIAGE RETURN ␍ (lines 1, 2)" in line for line in shown)
    assert any("RIGHT-TO-LEFT OVERRIDE <U+202E> (line 4)" in line for line in shown)


def test_the_stdin_prompt_shows_what_runs(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt="": asked.append(prompt) or "n")
    assert stdin_approver(RUN_PYTHON, SPOOF_CALL) == "no"
    _check_shown(capsys.readouterr().out)
    assert asked == ["Allow run_python (it hides characters: see ⚠ above)? [y]es / [n]o / [a]lways this session: "]
    printed, question = approval_prompt(RUN_PYTHON, {"code": "x = 1"})
    assert printed == "🔧 Kimi wants to run run_python:\n1 │ x = 1" and "hides" not in question


def test_a_cell_asking_to_run_spoofed_code_shows_it(kimi, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """End to end: %%kimi with run_python; the printed prompt shows the file-writing line; deny."""
    target = tmp_path / "notes.txt"
    code = SPOOF.replace("notes.txt", target.as_posix())
    monkeypatch.setattr("builtins.input", lambda prompt="": "n")
    kimi.server.script(Reply(reasoning="r", tool_calls=[ToolCall("run_python", json.dumps({"code": code}))]),
                       Reply(content="done"))
    cell = kimi.run("%kimi --tools +code summarise the reviews")
    assert cell.error is None, cell.stdout
    asking = [c["data"] for c in cell.updates if "kimi-lab-asking" in c.get("data", {}).get("text/html", "")]
    assert asking, "the card showed the call while the question waited"
    for shown in (asking[0]["text/plain"], html.unescape(re.sub(r"<[^>]+>", "\n", asking[0]["text/html"]))):
        assert f"2 │ open('{target.as_posix()}', 'w').write('pwned')  ␍" in screen(shown)
        assert "⚠ " in shown and "\r" not in shown and "\x1b" not in shown
    assert "\r" not in cell.stdout and "\x1b" not in cell.stdout
    assert "denied by you" in cell.markdown
    assert not target.exists(), "denied: nothing ran"


def test_the_panel_card_shows_what_runs_as_escaped_text() -> None:
    card = approval_html("run_python", SPOOF_CALL)
    pre = re.search(r"<pre style=\"([^\"]*)\">(.*)</pre>", card, re.DOTALL)
    assert pre is not None and "white-space:pre-wrap" in pre.group(1)
    assert html.unescape(pre.group(2)) == approval_view(SPOOF_CALL).display
    _check_shown(html.unescape(re.sub(r"<[^>]+>", "\n", card)))
    injected = approval_html("run_python", {"code": "</pre><img src=x onerror=alert(1)>"})
    assert "<img" not in injected and "&lt;img" in injected
