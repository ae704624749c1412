"""Files and the 256K context (issue 14): `--file` / `{file:PATH}` attachments, the size check before
sending (Moonshot's token counter, the local tokenizer, else the estimate), the context gauge in the footer,
cached tokens and their savings in `%kimi usage`, and a prompt prefix that stays byte-stable across turns
so providers' automatic prefix caches hit."""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import sys
import urllib.request
from pathlib import Path

import pytest

import kimi_lab
from kimi_lab.core.tokens import estimate_tokens
from kimi_lab.testing import Reply, ToolCall, Usage
from kimi_lab.testing._prefix_cache import prompt_text
from kimi_lab.testing._tokenizer import TOKENIZER_PATH, count_tokens

from .conftest import CANARY_KEY

CONTEXT = 262_144
BUDGET = 32_768  # KimiLab.max_tokens: kept for the answer


def sent_user(server) -> str:
    """The last user message of the last chat request."""
    return [m for m in server.chat_requests[-1].body["messages"] if m["role"] == "user"][-1]["content"]


def counted(server) -> list:
    return [r for r in server.requests if r.path.rstrip("/") == TOKENIZER_PATH]


def tiny_pdf(path: Path, lines: list[str]) -> Path:
    """A one-page PDF with a text layer (Helvetica, one text line per entry), written byte by byte."""
    text = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({line}) '" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(text)} >>\nstream\n{text}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(out)
    return path


# -- 1. attachments ---------------------------------------------------------------------------------------


def test_file_option_attaches_text_whole_fenced_and_named_and_the_footer_counts_its_tokens(kimi, tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_text("# Findings\n\n- churn is **up** in Q3\n- the `north` region leads\n")
    code = tmp_path / "clean.py"
    code.write_text("def clean(df):\n    return df.dropna()\n")
    kimi.server.script(Reply(content="Churn rose in Q3.", usage=Usage(900, 20)))
    cell = kimi.run(f"%kimi --file {notes} --file {code} --tools none what do these say?")
    assert cell.error is None, cell.stdout
    sent = sent_user(kimi.server)
    assert sent.startswith("what do these say?")
    assert "File `notes.md` (4 lines):\n```markdown\n# Findings\n\n- churn is **up** in Q3" in sent
    assert "File `clean.py` (2 lines):\n```python\ndef clean(df):\n    return df.dropna()\n```" in sent
    footer = cell.markdown.rsplit("<sub>", 1)[1]
    tokens = re.findall(r"(\S+) ~([\d,]+) tokens", footer)
    assert [name for name, _ in tokens] == ["notes.md", "clean.py"]
    assert all(int(n.replace(",", "")) > 10 for _, n in tokens)
    # the history lists the question as asked; the chat keeps what was sent, files included
    assert cell.result.prompt == "what do these say?"
    kimi.server.script(Reply(content="Yes."))
    kimi.run("%kimi --tools none and the region?")
    assert "- the `north` region leads" in kimi.server.chat_requests[-1].body["messages"][0]["content"]


def test_file_field_in_the_prompt_puts_the_file_there_and_double_braces_stay_literal(kimi, tmp_path):
    log = tmp_path / "run.log"
    log.write_text("ERROR disk full at 03:12\n")
    kimi.server.script(Reply(content="The disk filled up."))
    cell = kimi.run(f"%%kimi --tools none\nIn {{file:{log}}} what failed? (write {{{{file:x.log}}}} to quote)")
    assert cell.error is None, cell.stdout
    sent = sent_user(kimi.server)
    assert re.match(r"In \n\nFile `run\.log` \(1 line\):\n```\nERROR disk full at 03:12\n```\n\n what failed\?", sent)
    assert sent.endswith("(write {file:x.log} to quote)")


def test_a_csv_is_described_like_a_dataframe_variable_not_pasted(kimi, tmp_path):
    rows = "\n".join(f"{i},{'north' if i % 2 else 'south'},{i * 3}" for i in range(500))
    data = tmp_path / "sales.csv"
    data.write_text("id,region,units\n" + rows + "\n")
    kimi.server.script(Reply(content="500 rows."))
    cell = kimi.run(f"%kimi --file {data} --tools none how many rows?")
    assert cell.error is None, cell.stdout
    sent = sent_user(kimi.server)
    assert "File `sales.csv` (CSV, " in sent and "described as a table" in sent
    assert "DataFrame with 500 rows × 3 columns: id (int64), region (" in sent
    assert "499,north,1497" not in sent and "1497" not in sent, "the rows are described, not pasted"


def test_parquet_is_described_and_without_pyarrow_is_one_line(kimi, tmp_path, monkeypatch):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    path = tmp_path / "events.parquet"
    pd.DataFrame({"kind": ["click", "view", "buy"], "n": [3, 9, 1]}).to_parquet(path)
    kimi.server.script(Reply(content="Three kinds."))
    cell = kimi.run(f"%kimi --file {path} --tools none which kinds?")
    assert cell.error is None, cell.stdout
    assert "DataFrame with 3 rows × 2 columns: kind (" in sent_user(kimi.server)

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
    sent_before = len(kimi.server.chat_requests)
    cell = kimi.run(f"%kimi --file {path} --tools none which kinds?")
    assert type(cell.error).__name__ == "KimiConfigError"
    assert f"cannot attach --file {path}: reading Parquet needs pyarrow: pip install pyarrow" in cell.stdout
    assert "Traceback" not in cell.stdout and len(kimi.server.chat_requests) == sent_before


def test_a_pdf_is_its_text_and_without_pypdf_is_one_line_saying_pip_install_pypdf(kimi, tmp_path, monkeypatch):
    pdf = tiny_pdf(tmp_path / "report.pdf", ["Quarterly revenue grew 12 percent.", "Costs were flat."])
    if importlib.util.find_spec("pypdf") is not None:  # installed with kimi_lab[pdf] (and [test])
        kimi.server.script(Reply(content="Revenue grew."))
        cell = kimi.run(f"%kimi --file {pdf} --tools none what grew?")
        assert cell.error is None, cell.stdout
        sent = sent_user(kimi.server)
        assert "File `report.pdf` (PDF, 1 page), its text:" in sent
        assert "Quarterly revenue grew 12 percent." in sent and "Costs were flat." in sent
    monkeypatch.setitem(sys.modules, "pypdf", None)
    cell = kimi.run(f"%kimi --file {pdf} --tools none what grew?")
    assert type(cell.error).__name__ == "KimiConfigError"
    assert "reading PDF needs pypdf: pip install pypdf" in cell.stdout and "Traceback" not in cell.stdout


@pytest.mark.parametrize("make, why", [
    (lambda d: d / "nowhere.txt", "no such file"),
    (lambda d: d, "it is a directory"),
    (lambda d: (d / "blob.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00") and d / "blob.bin", "a binary file"),
])
def test_a_missing_file_a_directory_or_a_binary_file_is_one_line_naming_it(kimi, tmp_path, make, why):
    path = make(tmp_path)
    cell = kimi.run(f"%kimi --file {path} summarize")
    assert type(cell.error).__name__ == "KimiConfigError"
    line = [ln for ln in cell.stdout.splitlines() if "KimiConfigError" in ln]
    assert len(line) == 1 and f"cannot attach --file {path}: " in line[0] and why in line[0]
    assert "Traceback" not in cell.stdout
    assert kimi.server.chat_requests == [], "nothing is sent"


def test_a_secret_in_an_attached_file_is_not_sent(kimi, tmp_path):
    env = tmp_path / "settings.env"
    env.write_text(f"MOONSHOT_API_KEY={CANARY_KEY}\nREGION=eu\n")
    kimi.server.script(Reply(content="It sets a region."))
    cell = kimi.run(f"%kimi --file {env} --tools none what does it set?")
    assert cell.error is None, cell.stdout
    sent = json.dumps(kimi.server.chat_requests[-1].body)
    assert CANARY_KEY not in sent and "REGION=eu" in sent


def test_a_prompt_sent_as_written_keeps_its_file_fields(kimi):
    """`%kimi fix` quotes a cell's code, which may hold `{file:…}` text of its own: it is not attached."""
    kimi.server.script(Reply(content="Fixed."))
    result = kimi_lab.ask('open(f"{file:nowhere.csv}")', literal=True, tools="none", show=False)
    assert result.error is None and sent_user(kimi.server) == 'open(f"{file:nowhere.csv}")'


def test_kimi_lab_ask_takes_files_too(kimi, tmp_path):
    notes = tmp_path / "todo.txt"
    notes.write_text("ship the parser\n")
    kimi.server.script(Reply(content="Ship the parser.", usage=Usage(120, 5)))
    result = kimi_lab.ask("what is left?", files=[str(notes)], tools="none", show=False)
    assert "File `todo.txt` (1 line):\n```\nship the parser\n```" in sent_user(kimi.server)
    assert result.files == [("todo.txt", estimate_tokens("File `todo.txt` (1 line):\n```\nship the parser\n```"))]
    assert "files: todo.txt ~" in str(result)


# -- 2. the size check before sending ---------------------------------------------------------------------


def test_a_normal_question_is_not_counted_by_a_request(kimi):
    kimi.server.script(Reply(content="Hi."))
    cell = kimi.run("%kimi hello")
    assert cell.error is None, cell.stdout
    assert counted(kimi.server) == [], "an estimate far below the limit needs no count"
    assert len(kimi.server.chat_requests) == 1


def test_a_question_too_big_is_refused_before_sending_with_moonshots_count_and_what_to_drop(kimi, tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("12,34,56\n" * 130_000)  # 1.17 MB: ~292,000 tokens estimated; digits and commas count more
    cell = kimi.run(f"%kimi --file {big} --tools none sum the columns")
    assert type(cell.error).__name__ == "KimiConfigError"
    [count] = counted(kimi.server)
    assert count.headers["Authorization"] == f"Bearer {CANARY_KEY}"
    exact = count_tokens(count.body["messages"])
    assert count.body["model"] == "kimi-k2-thinking" and exact > CONTEXT
    assert (f"this question needs {exact:,} tokens and kimi-k2-thinking takes 262,144 (32,768 kept for the "
            f"answer): drop --file {big}") in cell.stdout
    assert kimi.server.chat_requests == [], "refused before sending"


def test_near_the_limit_the_count_decides_and_a_question_that_fits_goes_out(kimi, tmp_path):
    prose = tmp_path / "chapter.md"
    prose.write_text("quick brown foxes leapt above lazy hound " * 24_500)  # ~251,000 estimated: over the room
    kimi.server.script(Reply(content="A summary.", usage=Usage(172_000, 50)))
    cell = kimi.run(f"%kimi --file {prose} --tools none summarize")
    assert cell.error is None, cell.stdout
    [count] = counted(kimi.server)
    assert count_tokens(count.body["messages"]) < CONTEXT - BUDGET < estimate_tokens(prose.read_text())
    assert len(kimi.server.chat_requests) == 1, "Moonshot's count says it fits: it goes out"
    assert "172,000 / 262,144 ctx" in cell.markdown


def test_without_a_counter_the_estimate_decides_and_says_so(kimi, tmp_path):
    big = tmp_path / "big.csv.txt"
    big.write_text("x" * 1_000_000)
    cell = kimi.run(f"%kimi -p custom -m kimi-k2-thinking --file {big} --tools none look")
    assert type(cell.error).__name__ == "KimiConfigError"
    assert re.search(r"this question needs ~[\d,]+ tokens and kimi-k2-thinking takes 262,144", cell.stdout)
    assert counted(kimi.server) == [] and kimi.server.chat_requests == []


def test_a_long_chat_is_refused_with_start_a_new_chat_and_is_left_as_it_was(kimi):
    half = "word " * 120_000  # ~150,000 tokens estimated
    kimi.server.script(Reply(content="Noted."))
    assert kimi.run(f"%%kimi --tools none\n{half}").error is None
    cell = kimi.run(f"%%kimi --tools none\n{half}")
    assert type(cell.error).__name__ == "KimiConfigError"
    assert "start a new chat with --new" in cell.stdout
    refused = kimi.run(f"%%kimi --new --tools none\n{half}{half}")  # too big even alone: --new is not applied
    assert type(refused.error).__name__ == "KimiConfigError" and "--new" not in refused.stdout.split(": ", 2)[-1]
    history = kimi.run("%kimi history").text()
    assert history.count("Noted.") == 1
    kimi.server.script(Reply(content="Fresh."))
    assert kimi.run(f"%%kimi --new --tools none\n{half}").error is None, "--new makes it fit"


def test_local_counts_with_the_gguf_tokenizer_once_the_model_is_loaded(kimi, tmp_path, monkeypatch):
    pytest.importorskip("llama_cpp")
    import kimi_lab.backends.local as local_backend
    from kimi_lab.backends import _models
    from kimi_lab.core.session import session
    from kimi_lab.native import render
    from kimi_lab.testing.tiny_gguf import ScriptedLogits, write_tiny_gguf

    gguf = write_tiny_gguf(tmp_path / "tiny-kimi.gguf")
    monkeypatch.setattr(local_backend, "logits_processor_factory", lambda llm, request: ScriptedLogits(llm, "Hi."))
    try:
        assert kimi.run(f"%kimi -p local -m {gguf} --tools none --n-ctx 512 hi").error is None  # loads it
        question = " ".join(["ab"] * 400)  # ~300 tokens estimated; the tiny vocabulary spends about one a byte
        cell = kimi.run(f"%kimi -p local -m {gguf} --tools none --n-ctx 512 {question}")
        assert type(cell.error).__name__ == "KimiConfigError"
        messages = [*session().conversations.get(None).wire("native"), {"role": "user", "content": question}]
        [llm] = [m.llm for m in _models.loaded()]
        exact = len(llm.tokenize(render(messages, None, add_generation_prompt=True).encode(), add_bos=False,
                                 special=True))
        assert exact > 400
        assert (f"this question needs {exact:,} tokens and tiny-kimi.gguf takes 512 (128 kept for the answer): "
                f"raise %config KimiLab.n_ctx (or --n-ctx)") in cell.stdout
    finally:
        _models.unload()


def test_k3_has_a_million_tokens_of_context(kimi):
    kimi.server.script(Reply(content="Big.", usage=Usage(500_000, 10)))
    cell = kimi.run("%kimi -m kimi-k3 --tools none hi")
    assert cell.error is None, cell.stdout
    assert "500,000 / 1,048,576 ctx" in cell.markdown


# -- 3. the footer and %kimi usage ------------------------------------------------------------------------


def test_the_footer_shows_the_context_the_last_request_filled(kimi):
    kimi.server.script(
        Reply(reasoning="Look first.", tool_calls=[ToolCall("list_variables", "{}")], usage=Usage(1_000, 20)),
        Reply(content="Nothing here.", usage=Usage(41_200, 30)),
    )
    cell = kimi.run("%kimi what variables are there?")
    assert cell.error is None, cell.stdout
    footer = cell.markdown.rsplit("<sub>", 1)[1]
    assert "42,200 in / 50 out" in footer and "41,200 / 262,144 ctx" in footer


def test_usage_shows_cached_tokens_and_what_the_cache_saved(kimi):
    kimi.server.script(Reply(content="a", usage=Usage(1_000_000, 1_000, cached_tokens=800_000)))
    assert kimi.run("%kimi --tools none hi").error is None
    table = kimi.run("%kimi usage").result
    row = next(r for r in table.rows if r[0] == "moonshot")
    cells = dict(zip(table.headers, row, strict=True))
    assert cells["cached"] == "800,000"
    assert cells["cache read vs input per 1M"] == "$0.15 vs $0.6"
    assert cells["saved by cache"] == "$0.3600"  # 800,000 x ($0.60 - $0.15) / 1M
    assert dict(zip(table.headers, table.rows[-1], strict=True))["saved by cache"] == "$0.3600"


# -- 4. prefix caching ------------------------------------------------------------------------------------


def _post(server, body: dict) -> dict:
    request = urllib.request.Request(f"{server.base_url}/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {CANARY_KEY}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())["usage"]


TOOLS = [{"type": "function", "function": {"name": n, "description": f"The {n} tool.", "parameters": {}}}
         for n in ("alpha", "beta", "gamma")]


@pytest.mark.parametrize("server", [{"prefix_cache": True}, {"prefix_cache": True, "dialect": "openrouter"}],
                         indirect=True)
def test_the_loopback_prefix_cache_reports_the_longest_prefix_seen_and_misses_a_reordered_tool_list(server):
    first = {"model": "m", "tools": TOOLS, "messages": [{"role": "user", "content": "one " * 200}]}
    second = {**first, "messages": [*first["messages"], {"role": "assistant", "content": "ok"},
                                    {"role": "user", "content": "two"}]}
    shuffled = {**second, "tools": TOOLS[::-1]}
    cached = (lambda u: u["cached_tokens"]) if server.dialect == "moonshot" else (
        lambda u: u["prompt_tokens_details"]["cached_tokens"])
    assert cached(_post(server, first)) == 0
    usage = _post(server, second)
    assert cached(usage) == len(prompt_text(first)) // 4 and usage["prompt_tokens"] > cached(usage)
    missed = _post(server, shuffled)
    assert cached(missed) < missed["prompt_tokens"] // 10, "the tools open the prompt: reordered, nothing hits"


#: Eight requests (four turns, each a tool round and an answer), the three tool declarations and the system
#: prompt repeated in every one. When each request begins with the whole previous one, only the first request
#: and each new suffix (a tool result, an answer, a question: tens of tokens) miss: 0.83 of the prompt tokens
#: here. With the tool list in the order --tools named it (alternating), turns 2 and 4 miss everything (the
#: tools open the prompt) and turn 3 finds only turn 1's prefix: 0.69. 0.75 lies between the two.
HIT_RATE = 0.75


@pytest.mark.parametrize("server", [{"prefix_cache": True}], indirect=True)
def test_a_four_turn_chat_with_tools_keeps_its_prefix_and_hits_the_cache(kimi):
    for turn in range(4):
        kimi.server.script(
            Reply(reasoning=f"Check the variables ({turn}).", tool_calls=[ToolCall("list_variables", "{}")]),
            Reply(reasoning="Done.", content=f"Answer {turn}."),
        )
        # the same tools, named in another order each turn (as a user retyping --tools would)
        tools = "list_variables,evaluate,describe_variable" if turn % 2 else "describe_variable,evaluate,list_variables"
        cell = kimi.run(f"%kimi --tools {tools} question {turn}?")
        assert cell.error is None, cell.stdout
    prompts = [prompt_text(r.body) for r in kimi.server.chat_requests]
    assert len(prompts) == 8
    for before, after in itertools.pairwise(prompts):
        assert after.startswith(before), "every request begins with the whole previous one, byte for byte"
    table = kimi.run("%kimi usage").result
    total = dict(zip(table.headers, table.rows[-1], strict=True))
    cached, sent = (int(total[k].replace(",", "")) for k in ("cached", "in"))
    assert cached / sent > HIT_RATE, f"hit rate {cached / sent:.2f}"
