"""Credentials recognised by their shape alone, before anyone told kimi_lab their value.

A password inside a URL, a PEM private key, an Authorization value, a token with a provider's well-known
prefix, a quoted value assigned to a secret-looking name: each is found as the `(start, end)` range of the
secret part only, so `https://bob:[redacted]@db/x` and `Bearer [redacted]` keep their meaning.

Every shape is anchored on a literal found with `str.find` (`://`, a token prefix, `bearer`, a secret
word), and a regex only runs at those spots: scanning 100 kB costs a few milliseconds. Shapes that ordinary
words also take (`sk-learn-…`, `Bearer authentication`, `Basic statistics`) must look random to count.
"""

from __future__ import annotations

import base64
import binascii
import re
import string
from typing import Callable, Iterable

MAX_HITS = 10_000  # per literal and text: bounds the work on adversarial repetitive input

_TOKEN = re.compile(
    r"(?P<sk>sk-[A-Za-z0-9_\-]{20,512})"
    r"|(?P<stripe>[rs]k_(?:live|test)_[A-Za-z0-9]{16,256})"
    r"|(?P<gh>gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{40,255})"
    r"|(?P<slack>xox[abposr]-[A-Za-z0-9\-]{10,255})"
    r"|(?P<hf>hf_[A-Za-z0-9]{30,64})"
    r"|(?P<google>AIza[A-Za-z0-9_\-]{35})"
    r"|(?P<aws>(?:AKIA|ASIA)[A-Z0-9]{16})"
    r"|(?P<jwt>eyJ[A-Za-z0-9_\-]{8,2048}\.eyJ[A-Za-z0-9_\-]{8,4096}\.[A-Za-z0-9_\-]{0,1024})"
)
_TOKEN_PREFIXES = ("sk-", "sk_live_", "sk_test_", "rk_live_", "rk_test_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_",
                   "github_pat_", "xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "hf_", "AIza", "AKIA",
                   "ASIA", "eyJ")
_WORDISH = frozenset(string.ascii_letters + string.digits + "_-")
_ALNUM = frozenset(string.ascii_letters + string.digits)
_URL_AUTHORITY = re.compile(
    r"[^\s/?#@:'\"<>]{0,256}:([^\s/?#'\"<>]{1,512})@(?=[^\s@/?#'\"<>]{0,256}(?:[\s/?#'\"<>]|\Z))"
)
_SCHEME_CHARS = frozenset(string.ascii_letters + string.digits + "+.-")
_PEM = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]{0,16000}?"
    r"-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----|(?:[A-Za-z0-9+/=\s:,\-]|\\[nr]){0,16000})"
)
_SCHEME_VALUE = re.compile(
    r"(?:bearer|token)[ \t]{1,4}([a-z0-9\-._~+/]{12,4096}=*)|basic[ \t]{1,4}([a-z0-9+/]{8,4096}={0,2})"
)
_AUTH_HEADER = re.compile(
    r"authorization[\"']?[ \t]{0,3}[:=][ \t]{0,3}[\"']?"
    r"(?:(?:bearer|basic|token|digest|negotiate|apikey)[ \t]{1,4})?([^\s\"',;}]{6,4096})"
)
# A secret word, the rest of its identifier, then `=` or `:`: in C, so prose full of "key" and "token" is cheap.
_KEY_ASSIGNED = re.compile(
    r"(?:passw|passphrase|secret|token|credential|key|auth|bearer|cookie|session|pwd|pass|jwt)[a-z0-9_\-]{0,60}"
    r"(?=[\"']?[ \t]{0,3}(?:=(?!=)|:(?!//)))"
)
_IDENT_CHARS = frozenset(string.ascii_letters + string.digits + "_-")
_ASSIGNED = re.compile(r"([\"']?)[ \t]{0,3}(?:=(?!=)|:(?!//))[ \t]{0,3}([\"']?)([^\s\"',;)}\]]{1,4096})")
_CODE_LIKE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:[(\[]|\Z)")
_PLACEHOLDER_START = tuple("[<*$.{%(")
_NOT_VALUES = frozenset({"none", "null", "true", "false", "nil", "undefined", "redacted"})

Spans = list[tuple[int, int]]


def _at(haystack: str, needles: Iterable[str]) -> Iterable[int]:
    """Every position of every needle, bounded."""
    for needle in needles:
        i, hits = haystack.find(needle), 0
        while i != -1 and hits < MAX_HITS:
            yield i
            i, hits = haystack.find(needle, i + 1), hits + 1


def _token_ok(kind: str, token: str) -> bool:
    if kind == "sk":  # sk-learn-compatible-estimator is not a key; sk-proj-…, sk-or-v1-<hex> are
        parts = re.split(r"[-_]", token[3:])
        return any(len(p) >= 16 and any(c.isdigit() for c in p) and any(c.isalpha() for c in p) for p in parts)
    if kind == "hf":  # hf_tokenizerconfigurationfiles is a name; real tokens mix cases
        body = token[3:]
        return any(c.isupper() for c in body) and any(c.islower() for c in body)
    return True


def _tokens(text: str, out: Spans) -> None:
    for start in sorted(set(_at(text, _TOKEN_PREFIXES))):
        if start and text[start - 1] in _WORDISH:
            continue
        m = _TOKEN.match(text, start)
        if m is None:
            continue
        token = m.group(0).rstrip("-_.")
        end = start + len(token)
        if m.lastgroup in ("google", "aws") and end < len(text) and text[end] in _WORDISH:
            continue
        if _token_ok(m.lastgroup or "", token):
            out.append((start, end))


def _random_looking(value: str) -> bool:
    return any(c.isdigit() or c.isupper() or c in "-._~+/=" for c in value[1:])


def _basic_credentials(value: str) -> bool:
    try:
        return b":" in base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False


def _authorization(text: str, low: str, out: Spans) -> None:
    """Found in the case-folded text (same positions), judged on the original."""
    for i in _at(low, ("bearer", "token", "basic")):
        if i and low[i - 1] in _ALNUM:
            continue
        m = _SCHEME_VALUE.match(low, i)
        if m is None:
            continue
        if m.group(1) is not None and _random_looking(text[m.start(1):m.end(1)]):
            out.append(m.span(1))
        elif m.group(2) is not None and _basic_credentials(text[m.start(2):m.end(2)]):
            out.append(m.span(2))
    for i in _at(low, ("authorization",)):
        m = _AUTH_HEADER.match(low, i)
        if m is not None and m.group(1) not in _NOT_VALUES:
            out.append(m.span(1))


def url_password_spans(text: str) -> Spans:
    """The password of every `scheme://user:password@host` in `text`."""
    out: Spans = []
    for i in _at(text, ("://",)) if "@" in text else ():
        start = i
        while start > 0 and i - start < 32 and text[start - 1] in _SCHEME_CHARS:
            start -= 1
        if start < i and text[start].isalpha():
            m = _URL_AUTHORITY.match(text, i + 3)
            if m is not None and m.group(1).strip("*"):  # `***`: already masked
                out.append(m.span(1))
    return out


def _assignments(text: str, low: str, looks_secret: Callable[[str], bool], out: Spans) -> None:
    """Values assigned to secret-looking names: `password = "x"`, `"api_key": "x"`, `DB_PASS=s3cr3t!`.
    Unquoted values that read as code (`api_key=os.environ[…]`, `password: str`) are left alone, except
    in a URL query (`?api_key=…`)."""
    for hit in _KEY_ASSIGNED.finditer(low):
        start, end = hit.start(), hit.end()
        while start > 0 and text[start - 1] in _IDENT_CHARS and end - start < 64:
            start -= 1
        m = _ASSIGNED.match(text, end)
        if m is None or not looks_secret(text[start:end]):
            continue
        quoted, value = m.group(2), m.group(3)
        if value.lower() in _NOT_VALUES or value.startswith(_PLACEHOLDER_START):
            continue
        in_query = start > 0 and text[start - 1] in "?&" and "=" in text[end:m.start(3)]  # ?api_key=…
        if not quoted and not in_query and (len(value) < 4 or _CODE_LIKE.match(value)):
            continue
        if in_query:
            value = re.split(r"[&#]", value, maxsplit=1)[0]
        out.append((m.start(3), m.start(3) + len(value)))


def shape_spans(text: str, low: str, looks_secret: Callable[[str], bool]) -> Spans:
    """Every credential in `text` found by shape; `low` is `text` case-folded with the same length."""
    out = url_password_spans(text)
    if "PRIVATE KEY" in text:
        out.extend(m.span() for m in _PEM.finditer(text))
    _authorization(text, low, out)
    _tokens(text, out)
    _assignments(text, low, looks_secret, out)
    return out
