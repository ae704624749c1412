"""A GGUF run in this kernel by llama-cpp-python.

llama-cpp-python's chat API detokenizes without special tokens, so every Kimi marker
(`<think>`, the tool-call markers) silently vanishes from its text. For a model whose
vocabulary has Kimi's markers, this backend renders the prompt itself, tokenizes with special
tokens, generates token by token, detokenizes with special tokens (joining bytes so a character
split across tokens survives) and runs the native parser: the same events as the remote backend.
Any other GGUF goes through its own embedded chat template, with `<think>` parsing where the
markers survive.
"""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING, Any, Callable, Iterator

from kimi_lab.backends._models import LoadedModel, LoadOptions, load
from kimi_lab.backends._think import ThinkSplitter
from kimi_lab.backends.base import ChatRequest
from kimi_lab.common.errors import KimiConfigError
from kimi_lab.common.events import ContentDelta, Done, Event, ReasoningDelta, Status, TokenUsage, UsageEvent

if TYPE_CHECKING:
    from kimi_lab.settings.config import KimiLab
    from kimi_lab.settings.target import Target

__all__ = ["LocalBackend", "logits_processor_factory"]

#: Tests and demos may script the model's output: a callable (llm, request) -> logits processor.
logits_processor_factory: Callable[[Any, ChatRequest], Any] | None = None


def _plain_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For a GGUF's own template: OpenAI fields only (it knows nothing of reasoning fields)."""
    keep = ("role", "content", "tool_calls", "tool_call_id", "name")
    return [{k: m[k] for k in keep if k in m} for m in messages]


class LocalBackend:
    def __init__(
        self,
        target: Target,
        cfg: KimiLab,
        *,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        n_gpu_layers: int | None = None,
        cpu_moe: bool | None = None,
        min_p: float | None = None,
        force: bool = False,
    ) -> None:
        """Options given here (the magic's) win over the KimiLab settings."""
        self.target = target
        self.cfg = cfg
        self.min_p = cfg.min_p if min_p is None else min_p
        self.options = LoadOptions(
            n_ctx=n_ctx or cfg.n_ctx,
            n_threads=n_threads or cfg.n_threads,
            n_gpu_layers=cfg.n_gpu_layers if n_gpu_layers is None else n_gpu_layers,
            cpu_moe=cfg.cpu_moe if cpu_moe is None else cpu_moe,
            force=force,
        )

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        model: LoadedModel | None = None
        for item in load(self.target.model, self.options):
            if isinstance(item, Status):
                yield item
            else:
                model = item
        assert model is not None
        if request.seed is not None:
            model.llm.set_seed(request.seed)
        if model.native:
            yield from self._native(model, request)
        else:
            yield from self._chat_template(model, request)

    def _sampling(self, request: ChatRequest) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "temp": 1.0 if request.temperature is None else request.temperature,
            "top_p": request.top_p if request.top_p is not None else self.cfg.local_top_p,
            "min_p": self.min_p,
        }
        return kwargs

    def _native(self, model: LoadedModel, request: ChatRequest) -> Iterator[Event]:
        import llama_cpp

        from kimi_lab.native import Parser, render

        llm = model.llm
        prompt = render(request.messages, request.tools, add_generation_prompt=True)
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        room = llm.n_ctx() - len(tokens)
        if room <= 0:
            raise KimiConfigError(
                f"the conversation is {len(tokens):,} tokens and the context is {llm.n_ctx():,}: "
                f"raise %config KimiLab.n_ctx, or start afresh with --new"
            )
        budget = min(request.max_tokens, room)
        eos = llm.token_eos()
        vocab = getattr(llm, "_model", None)
        vocab = getattr(vocab, "vocab", None)
        is_eog = getattr(llama_cpp, "llama_vocab_is_eog", None)
        stops = [s.encode() for s in request.stop or ()]
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        parser = Parser()
        processors = None
        if logits_processor_factory is not None:
            processors = llama_cpp.LogitsProcessorList([logits_processor_factory(llm, request)])
        generated = 0
        finish = "stop"
        raw = bytearray()
        for token in llm.generate(tokens, reset=True, logits_processor=processors, **self._sampling(request)):
            if token == eos or (is_eog is not None and vocab is not None and is_eog(vocab, token)):
                break
            generated += 1
            piece = llm.detokenize([token], special=True)
            if stops:
                raw += piece
                if any(s in raw for s in stops):
                    break
            text = decoder.decode(piece)
            if text:
                yield from parser.feed(text)
            if generated >= budget:
                finish = "length"
                break
            if request.cancel.is_set():
                finish = "cancelled"
                break
        tail = decoder.decode(b"", final=True)
        if tail:
            yield from parser.feed(tail)
        yield from parser.close()
        if finish == "stop" and parser.result.tool_calls:
            finish = "tool_calls"
        yield UsageEvent(TokenUsage(prompt=len(tokens), completion=generated))
        yield Done(finish)

    def _chat_template(self, model: LoadedModel, request: ChatRequest) -> Iterator[Event]:
        sampling = self._sampling(request)
        splitter = ThinkSplitter()
        finish: str | None = None
        processors = None
        if logits_processor_factory is not None:
            import llama_cpp

            processors = llama_cpp.LogitsProcessorList([logits_processor_factory(model.llm, request)])
        chunks = model.llm.create_chat_completion(
            messages=_plain_messages(request.messages),
            stream=True,
            temperature=sampling["temp"],
            top_p=sampling["top_p"],
            min_p=sampling["min_p"],
            max_tokens=request.max_tokens,
            stop=request.stop,
            seed=request.seed,
            response_format=_response_format(request),
            logits_processor=processors,
        )
        completion = 0
        for chunk in chunks:
            choice = (chunk.get("choices") or [{}])[0]
            text = (choice.get("delta") or {}).get("content")
            if text:
                completion += 1
                for part, piece in splitter.feed(text):
                    yield ReasoningDelta(piece) if part == "reasoning" else ContentDelta(piece)
            finish = choice.get("finish_reason") or finish
            if request.cancel.is_set():
                finish = "cancelled"
                break
        for part, piece in splitter.flush():
            yield ReasoningDelta(piece) if part == "reasoning" else ContentDelta(piece)
        yield UsageEvent(TokenUsage(completion=completion))
        yield Done(finish or "stop")


def _response_format(request: ChatRequest) -> dict[str, Any] | None:
    """llama.cpp's shape: JSON mode, with the schema as its grammar when the answer is typed."""
    schema = ((request.response_format or {}).get("json_schema") or {}).get("schema")
    if schema is not None:
        return {"type": "json_object", "schema": schema}
    return {"type": "json_object"} if request.json_mode or request.response_format else None
