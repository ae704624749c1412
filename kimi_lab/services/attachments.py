"""Files attached to a question: `--file PATH` (repeatable) and `{file:PATH}` in the prompt.

Why each kind is read the way it is:
- source code, Markdown and any other UTF-8 text go in whole, fenced and named, so the model sees exactly
  what is in the file and can quote it; nothing is cut: a file too big for the model's context is refused
  before sending (services/context.py), never truncated silently;
- CSV, TSV and Parquet are tables: described as a DataFrame variable is (`{df}`: shape, column types, first
  rows), since millions of rows in the prompt would say less and cost more (pandas is imported only then;
  Parquet needs pyarrow);
- PDF is its text layer, page by page, where `pypdf` is installed (`pip install 'kimi_lab[pdf]'`);
- a missing file, a directory, or anything else that is not text is one line naming it.

The token count of each file (an estimate, shown with "~") goes under the answer, so a big attachment is
visible where its cost is.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from kimi_lab.common.errors import KimiConfigError
from kimi_lab.common.secrets import scrub
from kimi_lab.common.summarize import summarize
from kimi_lab.core.tokens import estimate_tokens
from kimi_lab.render.answer import md_fence

__all__ = ["MAX_FILE_BYTES", "Attachment", "attach", "read_file"]

#: A text file larger than this could not fit the largest Kimi context (1,048,576 tokens, about 4 MB of text)
#: twice over: refused from its size alone, before it is read into memory. Tables and PDFs are reduced first.
MAX_FILE_BYTES = 8 * 1024 * 1024
TABLE_CHARS = 4_000  # the same cap as a `{df}` variable's summary
_FIELD = re.compile(r"\{\{file:([^{}\n]+)\}\}|\{file:([^{}\n]+)\}")
_TABLES = {".csv": "CSV", ".tsv": "TSV", ".parquet": "Parquet", ".pq": "Parquet"}
_PDF_HINT = "reading PDF needs pypdf: pip install pypdf (or pip install 'kimi_lab[pdf]')"
_SPREADSHEETS = (".xlsx", ".xls", ".xlsm", ".ods", ".numbers")
_LANGUAGES = {
    ".py": "python", ".ipynb": "json", ".md": "markdown", ".markdown": "markdown", ".rst": "rst", ".txt": "",
    ".json": "json", ".jsonl": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".ini": "ini",
    ".cfg": "ini", ".sql": "sql", ".sh": "bash", ".js": "javascript", ".ts": "typescript", ".tsx": "tsx",
    ".html": "html", ".css": "css", ".r": "r", ".rs": "rust", ".go": "go", ".java": "java", ".c": "c",
    ".h": "c", ".cpp": "cpp", ".tex": "latex", ".xml": "xml", ".log": "",
}


@dataclass(frozen=True)
class Attachment:
    """One attached file as it goes into the prompt."""

    path: str  # as the user wrote it
    option: str  # how it was attached, for messages: "--file a.csv" or "{file:a.csv}"
    kind: str  # "text" | "table" | "pdf"
    text: str  # the block in the prompt: a heading line, then the content
    tokens: int  # estimated (~4 characters a token)

    @property
    def name(self) -> str:
        return os.path.basename(self.path.rstrip("/\\")) or self.path


def _refuse(option: str, why: str) -> KimiConfigError:
    return KimiConfigError(f"cannot attach {option}: {why}")


def _table(path: Path, suffix: str, option: str) -> str:
    if importlib.util.find_spec("pandas") is None:
        raise _refuse(option, "reading a table needs pandas: pip install pandas")
    if _TABLES[suffix] == "Parquet" and importlib.util.find_spec("pyarrow") is None:
        raise _refuse(option, "reading Parquet needs pyarrow: pip install pyarrow")
    import pandas as pd

    try:
        if _TABLES[suffix] == "Parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    except Exception as exc:  # a malformed file: say which and why, in one line
        raise _refuse(option, f"not readable as {_TABLES[suffix]} ({type(exc).__name__}: {str(exc)[:120]})") from None
    return summarize(frame, TABLE_CHARS)


def _pdf(path: Path, option: str) -> tuple[str, int]:
    if importlib.util.find_spec("pypdf") is None:
        raise _refuse(option, _PDF_HINT)
    try:
        import pypdf

        reader = pypdf.PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
    except ImportError:
        raise _refuse(option, _PDF_HINT) from None
    except Exception as exc:
        raise _refuse(option, f"not readable as PDF ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not any(p.strip() for p in pages):
        raise _refuse(option, "the PDF has no text layer (a scan?): nothing to attach")
    text = "\n\n".join(f"[page {n}]\n{p.strip()}" for n, p in enumerate(pages, 1) if p.strip())
    return text, len(pages)


def _text(path: Path, option: str) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise _refuse(option, "it is a binary file, not text (attach text, Markdown, CSV, Parquet or PDF)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _refuse(option, "it is not UTF-8 text (binary, or another encoding: convert it to UTF-8)") from None


def read_file(path: str, option: str | None = None, secrets: Sequence[str] | None = None) -> Attachment:
    """The file at `path` as a prompt block; raise KimiConfigError (one line naming it) when it cannot be.
    Its text is scrubbed of `secrets` (and of every credential shape): a `.env` file sends no key."""
    option = option or f"--file {path}"
    where = Path(os.path.expanduser(path))
    if not where.exists():
        raise _refuse(option, f"no such file ({where.resolve()})")
    if where.is_dir():
        raise _refuse(option, "it is a directory: attach the files in it one by one")
    size = where.stat().st_size
    suffix = where.suffix.lower()
    name = where.name
    if suffix in _TABLES:
        body = _table(where, suffix, option)
        heading, kind = f"File `{name}` ({_TABLES[suffix]}, {size:,} bytes), described as a table:", "table"
    elif suffix == ".pdf":
        body, pages = _pdf(where, option)
        heading, kind = f"File `{name}` (PDF, {pages} page{'s' if pages != 1 else ''}), its text:", "pdf"
        body = md_fence(body, "text")
    elif suffix in _SPREADSHEETS:
        raise _refuse(option, "a spreadsheet: save it as CSV, or read it with pandas and put {name} in the prompt")
    elif size > MAX_FILE_BYTES:  # text goes in whole: this much could never fit (tables and PDFs are reduced)
        raise _refuse(option, f"it is {size / 1e6:,.1f} MB, about {size // 4:,} tokens: more than any Kimi model's "
                              f"context; attach a part of it")
    else:
        content = _text(where, option)
        lines = content.count("\n") + (not content.endswith("\n") and bool(content))
        heading, kind = f"File `{name}` ({lines:,} line{'s' if lines != 1 else ''}):", "text"
        body = md_fence(content.rstrip("\n"), _LANGUAGES.get(suffix, suffix.lstrip(".")))
    block = scrub(f"{heading}\n{body}", secrets)
    return Attachment(path, option, kind, block, estimate_tokens(block))


def attach(prompt: str, files: Sequence[str] = (), secrets: Sequence[str] | None = None, *,
           fields: bool = True) -> tuple[str, list[Attachment]]:
    """The prompt as sent: each `{file:PATH}` replaced by its file's block (unless `fields` is False: a prompt
    sent as written), each `--file` appended after the question; `{{file:PATH}}` writes a literal
    `{file:PATH}`. Every file is read before anything is returned, so one that cannot be attached stops the
    question before it is sent."""
    if isinstance(files, str):
        files = [files]
    attached: list[Attachment] = []
    seen: dict[str, Attachment] = {}

    def one(path: str, option: str) -> Attachment:
        key = os.path.abspath(os.path.expanduser(path.strip()))
        if key not in seen:
            seen[key] = read_file(path.strip(), option, secrets)
            attached.append(seen[key])
        return seen[key]

    def fill(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return "{file:" + match.group(1) + "}"
        path = match.group(2)
        return "\n\n" + one(path, "{file:" + path + "}").text + "\n\n"

    sent = _FIELD.sub(fill, prompt) if fields and "{file:" in prompt else prompt
    appended = []
    for path in files:
        if not str(path).strip():
            raise KimiConfigError("--file needs a path")
        key = os.path.abspath(os.path.expanduser(str(path).strip()))
        if key in seen:  # already in the prompt through {file:…}
            continue
        appended.append(one(str(path), f"--file {path}").text)
    if appended:
        sent = sent.rstrip() + "\n\n" + "\n\n".join(appended)
    return sent.strip("\n") if attached else sent, attached
