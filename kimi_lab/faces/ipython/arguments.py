"""The `%kimi` magic's options, declared once as data; the argument parser is built on first use.

IPython's `@magic_arguments` decorators build the parser and format its help when the module is
imported, which was most of what `%load_ext kimi_lab` cost. Here the names are read from this
table (cheap) and argparse runs only when a `%kimi` line is parsed or help is asked for.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ARGUMENTS", "FLAG_ACTIONS", "parser"]

#: (option strings, argparse keyword arguments), in the order `%kimi -h` lists them.
ARGUMENTS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("-p", "--provider"), {"help": "Provider preset (see %%kimi providers), or a fallback chain tried in order "
                                    "when one fails before answering: moonshot,openrouter,local."}),
    (("-m", "--model"), {"help": "Model id, e.g. kimi-k2-thinking."}),
    (("--base-url",), {"help": "Any OpenAI-compatible base URL (vLLM, SGLang, llama-server)."}),
    (("--chat",), {"help": "Named conversation (default: this notebook's, shared with its sidebar)."}),
    (("--new",), {"action": "store_true", "help": "Start the conversation afresh."}),
    (("--system",), {"help": "System prompt for the conversation."}),
    (("--temperature",), {"type": float, "help": "Sampling temperature (default 1.0)."}),
    (("--top-p",), {"type": float, "help": "Nucleus sampling."}),
    (("--max-tokens",), {"type": int, "help": "Output budget, reasoning included (default 32768)."}),
    (("--seed",), {"type": int, "help": "Sampling seed."}),
    (("--stop",), {"action": "append", "help": "Stop sequence (repeatable)."}),
    (("--no-reasoning",), {"action": "store_true", "help": "Hide the reasoning (it is still recorded)."}),
    (("--json",), {"action": "store_true", "help": "JSON mode; the parsed value is in .data."}),
    (("-f", "--format"), {"choices": ("markdown", "code", "text", "json"),
                          "help": "markdown (default); code: the answer's code into a new cell below, not run; "
                                  "text: plain text, no Markdown; json: as --json."}),
    (("--file",), {"action": "append", "metavar": "PATH",
                   "help": "Attach a file (repeatable; or {file:PATH} in the prompt): text and Markdown whole, "
                           "CSV/Parquet described as a table, PDF as its text."}),
    (("--out",), {"help": "Store the result object in this variable."}),
    (("--tools",), {"help": "Tools offered: auto (data tools + yours), data, none, +code, or a list."}),
    (("--max-rounds",), {"type": int, "help": "Most model calls in the tool loop (default 64)."}),
    (("--effort",), {"choices": ("low", "high", "max"),
                     "help": "Reasoning effort, mapped to the model's control (K3: reasoning_effort; "
                             "K2.5/K2.6: low = off)."}),
    (("--route",), {"help": "OpenRouter: upstream hosts in order, e.g. moonshotai,together."}),
    (("--cache",), {"choices": ("off", "use", "replay"),
                    "help": "Replay cache for this cell: use (repeats answered from it, new calls recorded), "
                            "replay (from it only, nothing sent), off (default: KimiLab.cache)."}),
    (("-y", "--yes"), {"action": "store_true", "help": "%%kimi doctor: also send the two small paid requests."}),
    (("--n-ctx",), {"type": int, "help": "Local GGUF: context size in tokens (default 16384)."}),
    (("--threads",), {"type": int, "help": "Local GGUF: CPU threads."}),
    (("--gpu-layers",), {"type": int, "help": "Local GGUF: layers on the GPU (-1: all)."}),
    (("--cpu-moe",), {"action": "store_true", "default": None, "help": "Local GGUF: MoE experts stay on the CPU."}),
    (("--min-p",), {"type": float, "help": "Local GGUF: min-p sampling (default 0.01)."}),
    (("--force-load",), {"action": "store_true", "help": "Local GGUF: load even if it looks too big."}),
    (("--map",), {"metavar": "VAR", "help": "Ask the prompt (a template: {column}) for every row of this DataFrame, "
                                          "Series or list; the answers come back as a DataFrame."}),
    (("--schema",), {"metavar": "VAR", "help": "A pydantic model or JSON schema the answer must match: .data (and "
                                             "--out) is the validated value; with --map, one column per field."}),
    (("--concurrency",), {"type": int, "help": "With --map: requests at once (default: the provider's safe start)."}),
    (("--rpm",), {"type": float, "help": "With --map: requests per minute at most (0: no limit)."}),
    (("--tpm",), {"type": float, "help": "With --map: tokens per minute at most (0: no limit)."}),
    (("--max-cost",), {"type": float, "help": "With --map: stop admitting rows once this many dollars are spent."}),
    (("--dry-run",), {"action": "store_true", "help": "With --map: show rows, tokens, cost and time; send nothing."}),
)

#: argparse actions that take no value (the option stands alone).
FLAG_ACTIONS = frozenset({"store_true", "store_false", "store_const", "count", "help", "version"})

_parser: Any = None


def parser(description: str) -> Any:
    """The magic's argument parser (IPython's `MagicArgumentParser`: errors are UsageErrors), built once."""
    global _parser
    if _parser is None:
        from IPython.core.magic_arguments import MagicArgumentParser

        built = MagicArgumentParser("kimi", description=description)
        for names, kwargs in ARGUMENTS:
            built.add_argument(*names, **kwargs)
        _parser = built
    return _parser
