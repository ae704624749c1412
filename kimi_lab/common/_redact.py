"""Where known secrets hide in a text: the engine behind `kimi_lab.common.secrets.scrub` and `StreamScrubber`.

A known secret rarely leaks verbatim when a model (or a prompt-injected one) wants it out: it can upper-case
it, reverse it, base64- or hex-encode it, URL-encode it, slice it, or spread it one character at a time
(`list(key)`, `" ".join(key)`). `Matcher.spans` finds every such form, plus the credential shapes of
`_redact_shapes`, as merged `(start, end)` ranges, so scrubbing replaces each leak once.

Cost stays flat in the number of secrets: the text is cut into 8-byte words at every 4th byte, and one set
intersection with the 8-byte windows of every form of every secret says which secrets can occur at all
(any form, and any slice of 12+ characters, contains one such word); only those are then searched with
`str.find`. Spread-out forms are first looked for in the text with separators deleted.
`Matcher.hold_from` tells a stream scrubber how much of a buffer's end more text could still turn into a match.
"""

from __future__ import annotations

import base64
import re
import string
import struct
from functools import lru_cache
from typing import Callable, Iterable
from urllib.parse import quote, quote_plus

from kimi_lab.common._redact_shapes import MAX_HITS, shape_spans

REDACTED = "[redacted]"
MIN_SECRET_LEN = 8  # shorter known values would redact ordinary words
MIN_SLICE = 12  # this many consecutive characters of a known secret count as a leak
MAX_HOLD = 8_192  # a stream holds back at most this much of an unbroken run of non-space characters
_WORD = 8  # bytes per prefilter word; any form of 11+ bytes contains one starting at a multiple of 4
_STEP = 4
_MAX_SPREAD = 128  # spread-out forms are searched for secrets of at most this many non-separator characters
_GAP = 12  # most separator characters between two characters of a spread-out secret
_SEPARATORS = string.whitespace + string.punctuation
_SEP_SET = frozenset(_SEPARATORS)
_SEP_CLASS = "[" + "".join("\\" + c if c in "\\]^-[" else c for c in _SEPARATORS) + "]"
_DROP = _SEPARATORS.encode()
_PEM_HOLD = 16_384

Spans = list[tuple[int, int]]


def lower(text: str) -> str:
    """Case-folded text of the same length (so positions carry over); rare length-changing letters stay."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _words(data: bytes) -> set[int]:
    """The 8-byte words of `data` starting at every multiple of 4."""
    found: set[int] = set()
    for start in (0, _STEP):
        count = (len(data) - start) // _WORD
        if count > 0:
            found.update(struct.unpack_from(f"<{count}Q", data, start))
    return found


def _windows(data: bytes) -> Iterable[int]:
    return (int.from_bytes(data[i:i + _WORD], "little") for i in range(len(data) - _WORD + 1))


def _find_all(haystack: str, needle: str, out: Spans) -> None:
    i, hits = haystack.find(needle), 0
    while i != -1 and hits < MAX_HITS:
        out.append((i, i + len(needle)))
        i, hits = haystack.find(needle, i + 1), hits + 1


def _base64_forms(raw: bytes) -> set[str]:
    """base64 (standard and URL-safe) of the secret, padded, and the part of base64(x + secret + y) that
    depends only on the secret for each length of x modulo 3."""
    forms = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        forms.add(encode(raw).decode())
        for shift in range(3):
            encoded = encode(b"\0" * shift + raw).decode().rstrip("=")
            core = encoded[-(-8 * shift // 6):(8 * (shift + len(raw))) // 6]
            if len(core) >= MIN_SECRET_LEN:
                forms.add(core)
    return forms


class Known:
    """One known secret and the forms it is searched in."""

    def __init__(self, secret: str) -> None:
        self.low = lower(secret)
        raw = _utf8(secret)
        n = len(self.low)
        offsets = sorted({*range(0, max(n - _WORD, 0) + 1, _STEP if n <= 128 else 16), max(n - _WORD, 0)})
        self.checkpoints = [(o, self.low[o:o + _WORD]) for o in offsets]  # any 11+ character slice holds one
        insensitive = {self.low[::-1], raw.hex(), quote(secret, safe="").lower(), quote_plus(secret).lower(),
                       quote(secret).lower()}
        self.insensitive = sorted(f for f in insensitive - {self.low} if len(f) >= min(n, MIN_SECRET_LEN))
        self.sensitive = sorted(_base64_forms(raw)) if n >= MIN_SECRET_LEN else []
        compact = "".join(c for c in self.low if c not in _SEP_SET)
        self.compact = compact if 6 <= len(compact) <= _MAX_SPREAD else ""
        self.has_space = any(c.isspace() for c in secret)
        self._spread: tuple[re.Pattern[str], re.Pattern[str]] | None = None

    def forms(self) -> list[str]:
        """Every form, case-folded, for the prefilter."""
        return [self.low, *self.insensitive, *(lower(f) for f in self.sensitive)]

    def search(self, text: str, low: str, out: Spans) -> None:
        self._slices(low, out)
        for needle in self.insensitive:
            _find_all(low, needle, out)
        for needle in self.sensitive:
            _find_all(text, needle, out)

    def _slices(self, low: str, out: Spans) -> None:
        """The secret, or any run of at least MIN_SLICE of its characters, case-folded."""
        sl, n = self.low, len(self.low)
        need = min(n, MIN_SLICE)
        for offset, needle in self.checkpoints:
            i, hits = low.find(needle), 0
            while i != -1 and hits < MAX_HITS:
                left, s_left = i, offset
                while left > 0 and s_left > 0 and low[left - 1] == sl[s_left - 1]:
                    left, s_left = left - 1, s_left - 1
                right, s_right = i + len(needle), offset + len(needle)
                while right < len(low) and s_right < n and low[right] == sl[s_right]:
                    right, s_right = right + 1, s_right + 1
                if right - left >= need:
                    out.append((left, right))
                i, hits = low.find(needle, i + 1), hits + 1

    def spread(self) -> tuple[re.Pattern[str], re.Pattern[str]]:
        """Regexes for the case-folded secret (and reversed) with up to _GAP separators between characters."""
        if self._spread is None:
            gap = f"{_SEP_CLASS}{{0,{_GAP}}}"
            forward = gap.join(re.escape(c) for c in self.compact)
            backward = gap.join(re.escape(c) for c in reversed(self.compact))
            self._spread = (re.compile(forward), re.compile(backward))  # run on the case-folded text
        return self._spread


def merge(spans: Iterable[tuple[int, int]]) -> Spans:
    """Sorted, with overlapping and touching ranges joined."""
    merged: Spans = []
    for start, end in sorted(spans):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def apply(text: str, spans: Spans, offset: int = 0) -> str:
    """`text` (which starts at `offset` of the scanned buffer) with each span replaced by REDACTED."""
    parts, last = [], 0
    for start, end in spans:
        start, end = max(start - offset, last), min(end - offset, len(text))
        if end <= start:
            continue
        parts += [text[last:start], REDACTED]
        last = end
    parts.append(text[last:])
    return "".join(parts)


class Matcher:
    """All forms of a fixed set of known secrets, plus the credential shapes."""

    def __init__(self, secrets: tuple[str, ...], looks_secret: Callable[[str], bool]) -> None:
        self.known = [Known(s) for s in dict.fromkeys(secrets) if s]
        self.looks_secret = looks_secret
        self._by_word: dict[int, list[Known]] = {}
        self._always: list[Known] = []  # a form too short to hold an aligned word
        for k in self.known:
            forms = [_utf8(f) for f in k.forms()]
            if min(len(f) for f in forms) < _WORD + _STEP - 1:
                self._always.append(k)
            for word in {w for f in forms for w in _windows(f)}:
                self._by_word.setdefault(word, []).append(k)
        self._spreadable = [k for k in self.known if k.compact]
        self._spaced = [k for k in self.known if k.has_space]
        self._window = max((len(k.compact) * (_GAP + 1) for k in self._spreadable), default=0)

    def spans(self, text: str) -> Spans:
        low = lower(text)
        out = shape_spans(text, low, self.looks_secret)
        if not self.known:
            return merge(out)
        low_bytes = _utf8(low)
        candidates = dict.fromkeys(self._always)
        for word in _words(low_bytes) & self._by_word.keys():
            candidates.update(dict.fromkeys(self._by_word[word]))
        for k in candidates:
            k.search(text, low, out)
        if self._spreadable:
            compact = low_bytes.translate(None, _DROP)
            ascii_only = len(low_bytes) == len(low)
            for k in self._spreadable:
                needle = _utf8(k.compact)
                for found, pattern in zip((compact.find(needle), compact.find(needle[::-1])), k.spread(), strict=True):
                    if found != -1:  # with ASCII text, the match starts at or after its place in `compact`
                        out.extend(m.span() for m in pattern.finditer(low, found if ascii_only else 0))
        return merge(out)

    def hold_from(self, buf: str, spans: Spans, base: int) -> int:
        """The earliest position of `buf` (at least `base`) that more text could still pull into a match."""
        n = len(buf)
        floor = max(base, n - MAX_HOLD)
        # The last word may still grow. Shapes spanning words (`password = 'x'`, `Bearer x`) redact only
        # their last word, and the stream keeps the released text before it as context to recognise them.
        cut = _words_start(buf, floor) if n and not buf[-1].isspace() else n
        begin = buf.rfind("-----BEGIN", max(base, n - _PEM_HOLD))
        if begin != -1 and "-----END" not in buf[begin:]:
            header = buf[begin:begin + 80]
            if "PRIVATE" in header or header.count("-----") < 2:
                cut = min(cut, begin)
        cut = min(cut, self._open_spread(buf, base), self._open_spaced(buf))
        for start, end in reversed(spans):
            if start < cut <= end:  # touching a later match, they must become one
                cut = start
            elif end <= cut:
                break
        return max(cut, base)

    def _open_spread(self, buf: str, base: int) -> int:
        """Start of a tail that could begin a spread-out (or plain) known secret, or its reverse."""
        if not self._spreadable:
            return len(buf)
        start = max(base, len(buf) - self._window)
        kept = [i for i in range(start, len(buf)) if buf[i] not in _SEP_SET]
        compact = lower("".join(buf[i] for i in kept))
        cut = len(buf)
        for k in self._spreadable:
            for target in (k.compact, k.compact[::-1]):
                held = open_prefix(compact, target)
                if held:
                    cut = min(cut, kept[len(kept) - held])
        return cut

    def _open_spaced(self, buf: str) -> int:
        """Start of a tail that could be part of a known secret containing spaces (slices included)."""
        cut = len(buf)
        for k in self._spaced:
            tail = lower(buf[-len(k.low):])
            for target in (k.low, k.low[::-1]):
                for size in range(len(tail), 0, -1):
                    if tail[-size:] in target:
                        cut = min(cut, len(buf) - size)
                        break
        return cut


def _words_start(buf: str, low_bound: int) -> int:
    """Start of the run of non-space characters that ends `buf`."""
    i = len(buf)
    while i > low_bound and not buf[i - 1].isspace():
        i -= 1
    return i


def open_prefix(text: str, secret: str) -> int:
    """Length of the longest tail of `text` that is a proper prefix of `secret`."""
    tail = text[-(len(secret) - 1):] if len(secret) > 1 else ""
    i = tail.find(secret[0]) if secret else -1
    while i != -1:
        if secret.startswith(tail[i:]):
            return len(tail) - i
        i = tail.find(secret[0], i + 1)
    return 0


@lru_cache(maxsize=32)
def matcher(secrets: tuple[str, ...], looks_secret: Callable[[str], bool]) -> Matcher:
    return Matcher(secrets, looks_secret)
