"""Keep secrets out of everything kimi_lab shows, stores or sends to a model.

Three rules, used by every face and tool:
- a NAME rule (`looks_secret`): variables, keys and attributes named like credentials are never shown;
- a VALUE rule (`looks_secret_value`): a string holding a known secret or shaped like a credential is not
  shown either, whatever its name (a `DATABASE_URL` with a password, a key pasted into `cfg`);
- SCRUBBING (`scrub`, `StreamScrubber`): known secrets, in the encodings a model could turn them into, and
  every credential shape are replaced by `[redacted]` in text that leaves the kernel (prompts, answers,
  tool results, errors). The engine lives in `kimi_lab.common._redact`.

The known secrets are the values of secret-looking environment variables, `KimiLab.secret_env`, the API key,
and what `namespace_secrets` finds in the notebook. Nothing here imports more than the standard library.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Any, Iterable, Mapping

from kimi_lab.common import _redact, _redact_shapes
from kimi_lab.common._redact import MIN_SECRET_LEN, REDACTED

__all__ = [
    "REDACTED",
    "StreamScrubber",
    "credentials_in",
    "looks_secret",
    "looks_secret_value",
    "mask_url",
    "mask_urls",
    "namespace_secrets",
    "scrub",
    "secret_values",
]

# ------------------------------------------------------------------------------------------------- names

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# Inside a name's words run together ("PGPASSWORD", "openaiApiKey" -> "openaiapikey"): never ordinary data.
_COMPACT = re.compile(
    r"passw|passphrase|secret(?!ar)|credential|apikey|accesskey|secretkey|privatekey|privkey|signingkey"
    r"|authkey|authtoken|accesstoken|refreshtoken|sessionid|sessiontoken|sessionkey|bearer|jwt"
    r"|passcode|passkey|mnemonic|seedphrase|recoveryphrase|hmackey"
)
_ALWAYS = frozenset({"auth", "authorization", "authz", "authn", "oauth", "creds", "cred", "cookie", "cookies",
                     "cookiejar", "token", "apitoken", "otp", "totp", "hmac", "pem"})
# `*_key` and `*_token` are secrets unless a word before them says "data": primary_key, pad_token, n_token.
_DATA_BEFORE_KEY = frozenset({
    "primary", "foreign", "sort", "sorting", "group", "grouping", "join", "merge", "partition", "dict", "lookup",
    "index", "row", "col", "column", "composite", "unique", "natural", "surrogate", "candidate", "hash", "map",
    "shard", "bucket", "match", "compound", "record", "item", "entry", "table", "node", "object", "obj", "s3",
    "hot", "public", "pub", "first", "last", "next", "prev", "new", "old", "this", "current", "cur", "tmp",
    "each", "cache", "order", "dedup", "cluster", "id", "the", "a", "key", "dim", "dimension", "label", "level",
})
_DATA_BEFORE_TOKEN = frozenset({
    "n", "num", "number", "max", "min", "total", "count", "pad", "eos", "bos", "unk", "sep", "cls", "mask",
    "special", "start", "end", "stop", "input", "output", "prompt", "completion", "first", "last", "next",
    "prev", "new", "vocab", "sub", "subword", "word", "reasoning", "cached", "per", "avg", "mean", "text",
    "byte", "char", "image", "audio", "each", "the", "a", "bpe", "tokenizer", "decoder", "encoder",
})
_DATA_BEFORE_PASS = frozenset({
    "first", "second", "third", "last", "next", "prev", "forward", "backward", "fwd", "bwd", "single", "one",
    "two", "multi", "n", "num", "max", "min", "boarding", "bus", "day", "season", "mountain", "render",
})
# Words after `key`/`token` that still name the secret itself (api_key_value); any other (token_count) is data.
_VALUE_AFTER = frozenset({"value", "val", "str", "string", "b64", "base64", "hex", "raw", "bytes", "pem",
                          "header", "env", "var", "secret", "encoded", "enc", "plain", "plaintext"})


@lru_cache(maxsize=8192)
def looks_secret(name: str) -> bool:
    """True for names that hold credentials: OPENAI_API_KEY, openai_key, private_key, AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY, hf_token, GITHUB_TOKEN, db_password, PGPASSWORD, DB_PASS, db_pwd, Authorization,
    auth_header, bearer, cookie, session_id, client_secret, credentials, jwt.

    Ordinary data stays visible, because hiding it would blind the model to the user's work: `keys`, `key`,
    `key_col`, `primary_key`, `public_key`, `sort_key`, `monkey`, `hotkey`, `tokens`, `n_tokens`, `max_tokens`,
    `token_count`, `token_ids`, `pad_token`, `tokenizer`, `passenger`, `pass_rate`, `author`, `authority`,
    `secretary`, `session`, `pwd` (a working directory). A `key` or `token` word is a secret when nothing
    but a value suffix follows it (`api_key_b64`; `token_count` is a count) and the word before it is not a
    data word (`primary_key`, `pad_token`). `DATABASE_URL`, `*_DSN`, `*_URI` are not hidden by name: a URL
    without a password is ordinary data, and one with a password is hidden by the value rule.
    """
    words = [w.lower() for w in _WORD.findall(name) if not w.isdigit()]
    if not words:
        return False
    if _COMPACT.search("".join(words)):
        return True
    for i, word in enumerate(words):
        before = words[i - 1] if i else None
        after = words[i + 1:]
        if word in _ALWAYS and word != "token":
            return True
        if word.startswith("cookie") and not word.startswith("cookiecutter"):
            return True
        last_ok = all(w in _VALUE_AFTER for w in after)
        if (word == "token" or (word.endswith("token") and len(word) > 5)) and last_ok \
                and before not in _DATA_BEFORE_TOKEN:
            return True
        if word == "key" and before is not None and before not in _DATA_BEFORE_KEY and \
                all(w in _VALUE_AFTER or w == "id" for w in after):
            return True
        if word in ("pass", "pwd", "pw") and before is not None and not after and before not in _DATA_BEFORE_PASS:
            return True
        if word in ("pass", "pw") and len(words) == 1:  # {"user": "ann", "pass": "…"}
            return True
    return False


# ------------------------------------------------------------------------------------------------ values


def secret_values(
    env: Mapping[str, str] | None = None, extra_names: Iterable[str] = (), extra_values: Iterable[str] = ()
) -> list[str]:
    """Values of secret-looking environment variables (and of `extra_names`), passwords and tokens found inside
    any environment value (a `DATABASE_URL` with a password), plus `extra_values`; longest first."""
    env = os.environ if env is None else env
    values = set(_env_secrets(tuple(env.items()), tuple(extra_names))) | set(extra_values)
    return sorted((v for v in values if v and len(v) >= MIN_SECRET_LEN), key=len, reverse=True)


@lru_cache(maxsize=8)
def _env_secrets(items: tuple[tuple[str, str], ...], extra_names: tuple[str, ...]) -> frozenset[str]:
    """Cached on the environment's contents: the value rule asks for every string variable it checks."""
    extra = set(extra_names)
    found = {value for name, value in items if looks_secret(name) or name in extra}
    for _, value in items:
        found.update(credentials_in(value))
    return frozenset(found)


def _matcher(secrets: Iterable[str] | None) -> _redact.Matcher:
    chosen = secret_values() if secrets is None else secrets
    return _redact.matcher(tuple(s for s in chosen if isinstance(s, str) and s), looks_secret)


def credentials_in(text: str) -> list[str]:
    """The credential parts of `text` found by shape (URL passwords, tokens, PEM keys, auth values, quoted
    values of secret-looking names), so they can be scrubbed in every encoding from then on."""
    spans = _redact.merge(_redact_shapes.shape_spans(text, _redact.lower(text), looks_secret))
    return [text[start:end] for start, end in spans]


_VALUE_WINDOW = 32_768  # a longer string is judged by its two ends: what any description of it shows


def looks_secret_value(text: str, secrets: Iterable[str] | None = None) -> bool:
    """True if `text` contains a known secret (in any scrubbed form) or looks like a credential: a URL with a
    `user:password@`, a PEM private key, a `Bearer`/`Basic` value, a token of a well-known shape (`sk-…`,
    `ghp_…`, `AKIA…`, `xoxb-…`, `hf_…`, `AIza…`, a JWT). `secrets` defaults to `secret_values()`."""
    if len(text) > 2 * _VALUE_WINDOW:
        text = text[:_VALUE_WINDOW] + "\n" + text[-_VALUE_WINDOW:]
    return bool(_matcher(secrets).spans(text))


# --------------------------------------------------------------------------------------------- scrubbing


def scrub(text: str, secrets: Iterable[str] | None = None) -> str:
    """`text` with every known secret (also case-folded, reversed, base64, hex, URL-encoded, sliced to 12+
    characters or spread out with separators) and every credential shape replaced by `[redacted]`.
    `secrets` defaults to `secret_values()`."""
    m = _matcher(secrets)
    spans = m.spans(text)
    return _redact.apply(text, spans) if spans else text


class StreamScrubber:
    """Scrubs a text stream whose chunks may split a secret: the tail that more text could still turn into
    a match (the last word, an open PEM block, the start of a spread-out key) is held back until the next
    chunk, so the joined output always equals `scrub` of the joined input."""

    # Released characters kept as left context: a match's boundary is judged as on the whole text, and a
    # shape whose secret part is its last word (`Authorization: token x`, `password = 'x'`: at most ~75
    # characters before it) is still recognised when that word arrives in a later chunk.
    _CONTEXT = 96

    def __init__(self, secrets: Iterable[str] | None = None) -> None:
        self.secrets = list(secret_values() if secrets is None else secrets)
        self._matcher = _matcher(self.secrets)
        self._held = ""
        self._context = ""
        self._scanned = 0  # length of the held text at the last scan

    def feed(self, text: str) -> str:
        if not text:
            return ""
        if self._inside_word(text):  # the held word only grew: scanning it again would release nothing
            self._held += text
            return ""
        buf, base = self._context + self._held + text, len(self._context)
        spans = self._matcher.spans(buf)
        cut = self._matcher.hold_from(buf, spans, base)
        out = _redact.apply(buf[base:cut], [s for s in spans if s[1] > base and s[0] < cut], base)
        self._held = buf[cut:]
        self._context = buf[max(0, cut - self._CONTEXT):cut]
        self._scanned = len(self._held)
        return out

    def _inside_word(self, text: str) -> bool:
        """More of an unbroken run of characters, which is scanned again only when it has doubled.

        Without this an answer streaming a long run with no spaces (a URL, base64, a table rule) would scan
        the whole held run again for every chunk: quadratic. Doubling keeps the work linear; the output is
        unchanged (the same cut is computed later, on the same text), only released a little later.
        """
        if not self._held or self._held[-1].isspace() or any(c.isspace() for c in text):
            return False
        return len(self._held) + len(text) < 2 * max(self._scanned, 64)

    def flush(self) -> str:
        if not self._held:
            return ""
        buf, base = self._context + self._held, len(self._context)
        spans = [s for s in self._matcher.spans(buf) if s[1] > base]
        self._held, self._context, self._scanned = "", "", 0
        return _redact.apply(buf[base:], spans, base)


# ------------------------------------------------------------------------------------------------- URLs

_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#@]*)@")
_QUERY_PARAM = re.compile(r"([?&;])([^=&#;]+)=([^&#;]*)")


def mask_url(url: str) -> str:
    """`url` as it may be shown: the password of `user:password@` and the values of secret-looking query
    parameters (`?api_key=…`) become `***`; `https://user:pw@host/v1` -> `https://user:***@host/v1`."""
    m = _USERINFO.match(url)
    if m and ":" in m.group(2):
        url = f"{m.group(1)}{m.group(2).split(':', 1)[0]}:***@{url[m.end():]}"
    if "?" in url:
        url = _QUERY_PARAM.sub(lambda q: f"{q[1]}{q[2]}=***" if looks_secret(q[2]) and q[3] else q[0], url)
    return url


def mask_urls(text: str) -> str:
    """Every `scheme://user:password@` in free text with its password as `***` (for messages and errors)."""
    spans = _redact_shapes.url_password_spans(text) if "@" in text else []
    if not spans:
        return text
    parts, last = [], 0
    for start, end in spans:
        parts += [text[last:start], "***"]
        last = end
    return "".join(parts) + text[last:]


# --------------------------------------------------------------------------------------- notebook values


def namespace_secrets(namespace: Mapping[str, Any] | None, *, max_values: int = 5_000) -> list[str]:
    """Secrets held by notebook variables, so they are scrubbed like the environment's: string values of
    secret-looking names, values under secret-looking keys of dicts and attributes of plain objects (two
    levels down, at most `max_values` values visited, DataFrames and arrays never scanned), and credentials
    found by shape in any string seen (only the first 4,096 characters of each), including IPython's input
    history. Reads only: no property, `__repr__` or `__getattr__` runs."""
    from kimi_lab.common._secret_scan import scan

    if not namespace:
        return []
    return sorted(v for v in scan(namespace, max_values) if len(v) >= MIN_SECRET_LEN)
