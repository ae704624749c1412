"""Kimi K2 Thinking's native text format: render a conversation into the prompt the model
sees, and parse its raw output (reasoning, answer, tool calls) exactly, whatever the chunking.

For users of a local llama.cpp, a `llama-server --special`, or raw transcripts:

    >>> from kimi_lab import native
    >>> out = native.parse(raw_text)
    >>> out.reasoning, out.content, [(c.id, c.name, c.arguments, c.error) for c in out.tool_calls]
    >>> parser = native.Parser()          # incremental: feed chunks, get the backend's events
    >>> prompt = native.render(messages, tools=None, add_generation_prompt=True)
"""

from kimi_lab.native._parser import Parsed, ParsedCall, Parser, parse
from kimi_lab.native._template import DEFAULT_SYSTEM, canonical_ids, render, template_text

__all__ = ["DEFAULT_SYSTEM", "Parsed", "ParsedCall", "Parser", "canonical_ids", "parse", "render", "template_text"]
