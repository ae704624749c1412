"""The one timeline fold (kimi_lab/core/timeline.py) against the event streams every face shares.

tests/fixtures/timelines.json is also run by the sidebar's reducer (labextension/test/timeline.test.ts):
a rule changed on one side only fails one of the two suites."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kimi_lab.common.events import event_from_dict
from kimi_lab.core.timeline import Timeline

CASES = json.loads((Path(__file__).parent / "fixtures" / "timelines.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_shared_event_streams_fold_into_their_timelines(case: dict) -> None:
    timeline = Timeline.of([event_from_dict(e) for e in case["events"]])
    assert timeline.normal_form() == case["expected"]


def case_timeline(start: str) -> Timeline:
    case = next(c for c in CASES if c["name"].startswith(start))
    return Timeline.of([event_from_dict(e) for e in case["events"]])


def test_an_ended_turn_drops_cards_that_never_started_and_marks_running_ones_interrupted() -> None:
    timeline = case_timeline("while the first of two calls runs")
    timeline.end()
    assert [(s.call.name, s.status) for s in timeline.steps if s.call] == [("list_variables", "interrupted")]


def test_a_remark_whose_calls_never_ran_is_the_answer() -> None:
    timeline = case_timeline("mid-stream: the remark is a note as soon as a tool call streams")
    assert timeline.answer == ""
    timeline.end()
    assert [s.kind for s in timeline.steps] == ["reasoning"]
    assert timeline.answer == "Checking the frame."


def test_a_remark_before_a_tool_that_ran_stays_a_note_at_the_end() -> None:
    timeline = case_timeline("a remark between two tool rounds")
    timeline.end()
    assert [s.kind for s in timeline.steps] == ["reasoning", "note", "tool", "reasoning"]
    assert timeline.answer == "East leads: the total is 4210.5."


def test_a_long_answer_keeps_every_piece_in_order() -> None:
    timeline = Timeline()
    for i in range(50_000):
        timeline.apply(event_from_dict({"type": "content", "text": str(i % 10)}))
    assert timeline.answering
    assert timeline.answer == "0123456789" * 5_000
