from hypothesis import given, settings
from hypothesis import strategies as st

from kimi_lab.backends._think import ThinkSplitter


def split_all(chunks):
    s = ThinkSplitter()
    out = []
    for c in chunks:
        out.extend(s.feed(c))
    out.extend(s.flush())
    merged = {"reasoning": "", "content": ""}
    for part, text in out:
        merged[part] += text
    return merged


def test_inline_think_is_reasoning():
    assert split_all(["<think>plan</think>\n\nanswer"]) == {"reasoning": "plan", "content": "answer"}


def test_plain_content_passes_through_even_with_tags_later():
    assert split_all(["hello <think>x</think>"]) == {"reasoning": "", "content": "hello <think>x</think>"}


def test_unfinished_think_at_end_is_reasoning():
    assert split_all(["<thi", "nk>still going"]) == {"reasoning": "still going", "content": ""}


TEXT = "<think>a < b and </thin not yet</think>\n\nThe answer: x</think>y"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(TEXT)), max_size=12))
def test_any_chunking_gives_the_same_split(cuts):
    points = sorted(set(cuts))
    chunks, prev = [], 0
    for p in points:
        chunks.append(TEXT[prev:p])
        prev = p
    chunks.append(TEXT[prev:])
    assert split_all(chunks) == split_all([TEXT]) == {
        "reasoning": "a < b and </thin not yet",
        "content": "The answer: x</think>y",
    }


SECRET = "sk-live-abcdef0123456789"
STREAM = f"key {SECRET} again {SECRET[:10]} and sk-live-abc at the end sk-li"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(STREAM)), max_size=10))
def test_stream_scrubber_catches_secrets_split_across_chunks(cuts):
    from kimi_lab.common.secrets import StreamScrubber

    points, prev, chunks = sorted(set(cuts)), 0, []
    for p in points:
        chunks.append(STREAM[prev:p])
        prev = p
    chunks.append(STREAM[prev:])
    scrubber = StreamScrubber([SECRET])
    out = "".join(scrubber.feed(c) for c in chunks) + scrubber.flush()
    assert out == f"key [redacted] again {SECRET[:10]} and sk-live-abc at the end sk-li"
