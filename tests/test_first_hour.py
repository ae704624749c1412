"""What a new user meets first, in the kernel (issue 11): help, readable tables, errors said once."""

from __future__ import annotations

import pytest

from kimi_lab.tools.registry import registry, tool

pytestmark = pytest.mark.usefixtures("checked_bridges")  # the comm messages of its Bridge tests are checked


@pytest.mark.parametrize("cell", ["%kimi help", "%kimi -h", "%kimi --help", "%kimi Help?", "%%kimi\nhelp\n",
                                  "%kimi --chat x --help", "%kimi?", "%kimi??"])
def test_every_way_of_asking_for_help_shows_the_usage_and_sends_nothing(kimi, cell):
    out = kimi.run(cell)
    assert out.error is None, out.stdout
    assert "%kimi [options] PROMPT" in out.stdout and "--provider" in out.stdout and "%kimi providers" in out.stdout
    assert not out.stdout.startswith("::")
    assert kimi.server.chat_requests == [], "help is never a question to the model"


def test_help_inside_a_real_question_is_still_a_question(kimi):
    assert kimi.run("%kimi help me read this frame").error is None
    assert len(kimi.server.chat_requests) == 1


def test_config_title_shows_its_placeholder(kimi):
    md = kimi.run("%kimi config").result._repr_mimebundle_()["text/markdown"]
    assert "KimiLab.&lt;setting&gt;" in md, "a bare <setting> is swallowed by the Markdown renderer as a tag"


def test_providers_prices_are_text_not_math(kimi):
    md = kimi.run("%kimi providers").result._repr_mimebundle_()["text/markdown"]
    assert "\\\\$" in md and " $0" not in md and "|$" not in md


def test_tool_descriptions_are_cut_at_a_word_with_an_ellipsis(kimi):
    words = " ".join(f"word{i}" for i in range(60))

    def long_winded(x: int) -> int:
        return x

    long_winded.__doc__ = f"Does a thing. {words}\n\nArgs:\n    x: a number"
    tool(long_winded)
    try:
        table = kimi.run("%kimi tools").result
        row = next(r for r in table.rows if r[0] == "long_winded")
        assert row[3].endswith(" …") and row[3][:-2].split()[-1] in words.split()
    finally:
        registry.remove("long_winded")


def test_approving_run_python_shows_the_call_then_clears_the_prompt_and_records_the_answer(kimi, monkeypatch):
    import json

    from kimi_lab.testing import Reply, ToolCall

    monkeypatch.setattr("builtins.input", lambda prompt="": "y")
    monkeypatch.setitem(kimi.shell.user_ns, "seen", None)  # removed again after: the shell is shared by every test
    kimi.server.script(Reply(reasoning="r", tool_calls=[ToolCall("run_python", json.dumps({"code": "seen = 6 * 7"}))]),
                       Reply(content="It is 42."))
    cell = kimi.run("%kimi --tools +code compute it")
    assert cell.error is None and kimi.shell.user_ns["seen"] == 42
    shown = [c.get("data", {}) for c in cell.updates]
    assert not any("?()" in str(d) for d in shown), "the card always names its call"
    asking = next(i for i, d in enumerate(shown) if "kimi-lab-asking" in d.get("text/html", ""))
    assert "run_python" in shown[asking]["text/html"] and "seen = 6 * 7" in shown[asking]["text/html"]
    assert "seen = 6 * 7" not in cell.stdout, "the code is on the card, not printed a second time"
    assert not any(c.get("clear") for c in cell.updates), "nothing the user saw is cleared"
    last = cell.updates[-1]
    assert not last["update"] and "approved by you · ok" in last["data"]["text/markdown"], \
        "the answer is drawn anew below the prompt's answer, its card saying what was decided"
    assert "It is 42." in last["data"]["text/markdown"]
    live = cell.updates[asking]["id"]
    assert [d for d in cell.displays if "kimi-lab-live" in d.get("text/html", "")] == [], \
        f"the live output {live} is emptied, so the answer shows once"


def test_a_cell_that_asks_nothing_is_never_cleared(kimi):
    from kimi_lab.testing import Reply

    kimi.server.script(Reply(content="plain"))
    cell = kimi.run("print('mine'); _r = %kimi --tools none hi")
    assert not any(c.get("clear") for c in cell.updates) and "mine" in cell.stdout


@pytest.mark.parametrize("path, chat", [
    ("analysis.ipynb", "analysis"), ("work/Q3 sales.IPYNB", "work/Q3 sales"), ("\\\\srv\\nb.ipynb", "srv/nb"),
    ("/home/me/nb.ipynb", "home/me/nb"), ("", "default"), (".ipynb", "default"),
])
def test_a_notebook_chat_is_named_like_the_sidebar_names_it(path, chat):
    from kimi_lab.core.conversation import chat_name_for_path

    assert chat_name_for_path(path) == chat  # the cases of labextension/test: chatNameForPath


def test_cells_ask_in_their_notebook_chat_and_notebooks_never_share_one(kimi, monkeypatch):
    from kimi_lab.core.session import session
    from kimi_lab.faces.comm.dispatch import Bridge
    from kimi_lab.testing import Reply

    monkeypatch.setitem(kimi.shell.user_ns, "__session__", "work/first.ipynb")
    kimi.server.script(Reply(content="one"), Reply(content="two"))
    assert kimi.run("%kimi --tools none asked in a cell of first").error is None
    assert [r.prompt for r in session().conversations.get("work/first").results] == ["asked in a cell of first"]
    sent: list[dict] = []
    Bridge(sent.append).handle({"content": {"data": {"type": "history", "request_id": "h", "chat": "work/first"}}})
    reply = next(m for m in sent if m.get("request_id") == "h")
    assert [t["prompt"] for t in reply["turns"]] == ["asked in a cell of first"], \
        "the sidebar, which opens chat work/first, sees what the cells asked"
    monkeypatch.setitem(kimi.shell.user_ns, "__session__", "work/second.ipynb")
    assert kimi.run("%kimi --tools none asked in second").error is None
    assert [r.prompt for r in session().conversations.get("work/second").results] == ["asked in second"]
    assert len(session().conversations.get("work/first").results) == 1, "two notebooks, two chats"
    kimi.server.script(Reply(content="three"))
    assert kimi.run("%kimi --chat elsewhere --tools none hi").error is None
    assert len(session().conversations.get("work/second").results) == 1, "--chat still chooses another"
    for name in ("work/first", "work/second", "elsewhere"):
        session().conversations.reset(name)


def test_answers_carry_the_extension_mime_type_beside_markdown(kimi):
    from kimi_lab.render.answer import ANSWER_MIME
    from kimi_lab.testing import Reply

    kimi.server.script(Reply(content="```python\nx = 1\n```"))
    shown = kimi.run("%kimi --tools none code please").displays[-1]
    assert shown[ANSWER_MIME] == {"markdown": shown["text/markdown"]} and "x = 1" in shown["text/markdown"]
    from pathlib import Path

    renderer = Path(__file__).parents[1] / "labextension" / "src" / "answermime.ts"
    assert f"ANSWER_MIME = '{ANSWER_MIME}'" in renderer.read_text(), "the extension renders the type the kernel sends"


def test_the_sidebar_marks_only_presets_that_need_a_key(kimi, monkeypatch):
    from kimi_lab.faces.comm.dispatch import Bridge

    monkeypatch.delenv("MOONSHOT_API_KEY")
    sent: list[dict] = []
    Bridge(sent.append).handle({"content": {"data": {"type": "providers", "request_id": "p"}}})
    by_name = {p["name"]: p for p in next(m for m in sent if m.get("request_id") == "p")["providers"]}
    assert by_name["moonshot"]["needs_key"] and not by_name["moonshot"]["key_set"]
    assert not by_name["custom"]["needs_key"] and not by_name["local"]["needs_key"]


def test_a_chat_face_says_what_to_do_from_there_when_no_provider_is_set_up(kimi, monkeypatch):
    from kimi_lab.faces.comm.dispatch import Bridge

    monkeypatch.delenv("MOONSHOT_API_KEY")
    sent: list[dict] = []
    bridge = Bridge(sent.append)
    bridge.handle({"content": {"data": {"type": "ask", "request_id": "a", "chat": "nokey", "prompt": "hi"}}})
    from .test_panel import wait_for

    assert wait_for(lambda: any(m.get("type") == "error" and m.get("request_id") == "a" for m in sent))
    message = next(m for m in sent if m.get("type") == "error")["message"]
    assert "restart the kernel" in message and "MOONSHOT_API_KEY" in message and "--base-url" not in message


def test_the_last_words_of_reasoning_come_before_its_tool_call(server, clean_env, monkeypatch):
    """The secret scrubber holds a stream's tail back; the sidebar showed it after the tool card."""
    import json

    from kimi_lab.common.events import ReasoningDelta, ToolCallDelta
    from kimi_lab.services import ask as api
    from kimi_lab.testing import Reply, ToolCall

    server.script(Reply(reasoning="Sum revenue by region, largest first.",
                        tool_calls=[ToolCall("evaluate", json.dumps({"expression": "1 + 1"}))]),
                  Reply(content="done"))
    monkeypatch.setenv("KIMI_LAB_API_KEY", server.api_key)
    turn = api.prepare("q", base_url=server.base_url, namespace={"x": 1}, tools="data")
    events: list = []
    turn.run(events.append)
    assert turn.error is None, turn.error
    first_call = next(i for i, e in enumerate(events) if isinstance(e, ToolCallDelta))
    before = "".join(e.text for e in events[:first_call] if isinstance(e, ReasoningDelta))
    assert before == "Sum revenue by region, largest first."


def test_a_tool_name_cannot_draw_a_second_line_on_its_card():
    from kimi_lab.common.result import Result, Step, ToolCall
    from kimi_lab.render.answer import markdown, tool_line

    fake = "run_python(code=\"df.to_csv('out.csv')\") · approved by you · ok · 0.41 s\n\n\n# Heading"
    step = Step("tool", call=ToolCall(fake, {}, "c1"), status="error")
    line = tool_line(step)
    assert "\n" not in line and len(line) < 120 and line.endswith("…() · error · 0.00 s")
    md = markdown(Result(content="done", steps=[step]))
    assert "\n# Heading" not in md and "\n\n\n" not in md.split("</summary>")[1].split("```")[0]


def test_the_card_shows_the_arguments_the_runner_will_run(kimi, monkeypatch):
    """Repaired JSON (a trailing comma) is shown decoded, as it runs: not as one raw line."""
    from kimi_lab.testing import Reply, ToolCall

    monkeypatch.setattr("builtins.input", lambda prompt="": "n")
    raw = '{"code": "x = 1  # harmless\\nPWNED = 1",}'
    kimi.server.script(Reply(reasoning="r", tool_calls=[ToolCall("run_python", raw)]), Reply(content="ok"))
    cell = kimi.run("%kimi --tools +code go")
    asking = next(c["data"] for c in cell.updates if "kimi-lab-asking" in c.get("data", {}).get("text/html", ""))
    assert "2 │ PWNED = 1" in asking["text/plain"], asking["text/plain"]
    assert "PWNED" not in kimi.shell.user_ns


def test_html_in_an_answer_reaches_no_front_end_as_html(kimi):
    from kimi_lab.render.answer import ANSWER_MIME
    from kimi_lab.testing import Reply

    kimi.server.script(Reply(content='Top region: <img src=x onerror="alert(1)"> ![x](https://evil.example/t.png)'))
    shown = kimi.run("%kimi --tools none which region?").displays[-1]
    for md in (shown["text/markdown"], shown[ANSWER_MIME]["markdown"]):
        assert "<img" not in md and "![x](" not in md and "&lt;img" in md


def test_in_a_real_lab_the_cells_join_the_chat_the_sidebar_opens(kimi, monkeypatch):
    """jupyter_server gives the kernel the notebook's absolute path; the sidebar names the chat by the
    path under the server's root. Once the sidebar opens it, the cells' turns are there, and the cells
    go on in it."""
    from kimi_lab.core.conversation import default_chat
    from kimi_lab.core.session import session
    from kimi_lab.faces.comm.dispatch import Bridge
    from kimi_lab.testing import Reply

    monkeypatch.setitem(kimi.shell.user_ns, "__session__", "/srv/jupyter/root/real/nb.ipynb")
    kimi.server.script(Reply(content="one"), Reply(content="two"))
    assert kimi.run("%kimi --tools none before the sidebar").error is None
    assert default_chat() == "srv/jupyter/root/real/nb"

    def history(chat: str) -> list[str]:
        sent: list[dict] = []
        Bridge(sent.append).handle({"content": {"data": {"type": "history", "request_id": "h", "chat": chat}}})
        return [t["prompt"] for t in next(m for m in sent if m.get("request_id") == "h")["turns"]]

    assert history("other/nb") == [], "another notebook's chat is not this one"
    assert default_chat() == "srv/jupyter/root/real/nb"
    assert history("real/nb") == ["before the sidebar"], "the sidebar sees what the cells asked"
    assert default_chat() == "real/nb"
    assert kimi.run("%kimi --tools none after it").error is None
    assert [r.prompt for r in session().conversations.get("real/nb").results] == ["before the sidebar", "after it"]
    from kimi_lab.store.reopen import open_store

    store = open_store()
    assert store is not None and [t.prompt for t in store.turns("real/nb")] == ["before the sidebar", "after it"]
    assert store.turns("srv/jupyter/root/real/nb") == [], "a restart reopens one chat, not two"
    for name in ("real/nb", "other/nb"):
        session().conversations.reset(name)
