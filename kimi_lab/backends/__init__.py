"""Backends turn a ChatRequest into a stream of events. None of them imports IPython."""

from kimi_lab.backends.base import Backend, ChatRequest

__all__ = ["Backend", "ChatRequest"]
