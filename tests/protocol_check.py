"""Every comm message the bridge tests see, both ways, is checked against kimi_lab/faces/comm/protocol.py.

The bridge swallows a failing sink (a frontend that went away must not stop an answer), so a sink
cannot fail the test by raising: problems are collected here and `protocol_problems` (autouse,
through tests/conftest.py) fails the test that saw them.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Literal

import pytest

from kimi_lab.faces.comm.protocol_validate import validate

PROBLEMS: list[str] = []


def check(message: Any, sender: Literal["kernel", "frontend"] = "kernel") -> None:
    """Record what is wrong with `message` from `sender`."""
    kind = message.get("type") if isinstance(message, dict) else None
    PROBLEMS.extend(f"{sender} {kind!r} message: {problem}" for problem in validate(message, sender))


def checked(send: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """`send` (a bridge's sink), checking each message it is given."""

    def sink(message: dict[str, Any]) -> None:
        check(message)
        send(message)

    return sink


def request(data: dict[str, Any]) -> dict[str, Any]:
    """`data`, a frontend request, once checked."""
    check(data, "frontend")
    return data


def checked_iopub(msg: dict[str, Any]) -> dict[str, Any]:
    """An iopub message from a real kernel, its comm data checked when it is a comm message."""
    if msg.get("msg_type") == "comm_msg":
        check(msg["content"]["data"])
    return msg


@pytest.fixture
def checked_bridges(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Bridge made in the test sends through `checked`, and the requests it handles are checked."""
    from kimi_lab.faces.comm.dispatch import Bridge

    init, handle = Bridge.__init__, Bridge.handle

    def checked_init(self: Bridge, send: Callable[[dict[str, Any]], None], **kwargs: Any) -> None:
        init(self, checked(send), **kwargs)

    def checked_handle(self: Bridge, msg: dict[str, Any]) -> None:
        request(msg["content"]["data"])
        handle(self, msg)

    monkeypatch.setattr(Bridge, "__init__", checked_init)
    monkeypatch.setattr(Bridge, "handle", checked_handle)


@pytest.fixture(autouse=True)
def protocol_problems() -> Iterator[None]:
    """Fails a test during which a checked comm message broke the protocol."""
    PROBLEMS.clear()
    yield
    problems, PROBLEMS[:] = PROBLEMS[:], []
    assert not problems, "messages that break kimi_lab/faces/comm/protocol.py:\n" + "\n".join(problems[:20])
