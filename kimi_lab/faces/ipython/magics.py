"""`%kimi` and `%%kimi`: ask Kimi K2 Thinking from a notebook cell."""

from __future__ import annotations

import os
import re
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand

from kimi_lab.faces.ipython.arguments import ARGUMENTS, parser
from kimi_lab.faces.ipython.options import OptionError, option_names, split_options

__all__ = ["KimiMagics"]

SUBCOMMANDS = (
    "providers", "models", "doctor", "config", "reset", "history", "usage", "tools", "unload", "chat", "export",
    "reopen", "fix", "explain", "cache",
)
_NAME = re.compile(r"^[\w.-]+$")
_NAMES = option_names(ARGUMENTS)


def _is_question(words: list[str]) -> bool:
    """`%kimi explain decorators` asks the model; `%kimi explain` and `%kimi fix 7` ask about an error."""
    return words[0] in ("fix", "explain") and len(words) == 2 and not words[1].isdigit()


def _is_help(prompt: str) -> bool:
    """A prompt that is only "help" (any case, a trailing ? or !) asks kimi_lab, not the model."""
    return prompt.strip().rstrip("?!.").strip().lower() == "help"


@magics_class
class KimiMagics(Magics):
    @no_var_expand
    @line_cell_magic
    def kimi(self, line: str, cell: str | None = None) -> Any:
        """Ask Kimi K2 Thinking; reasoning streams beside the answer.

        %kimi [options] PROMPT           one-line question
        %%kimi [options]                 the cell body is the prompt
        %kimi providers | models | doctor [-y] | config | usage | tools | unload
        %kimi reset [NAME] | history [NAME] | chat [NAME]
        %kimi export [NAME] | reopen [NAME]      transcripts recorded on disk, across kernels
        %kimi fix [N] | explain [N]      the last error (or cell N's): a corrected cell below / why it failed
        %kimi cache [clear | export PATH | import PATH]   the replay cache (--cache use | replay | off)
        %%kimi -p local -m PATH.gguf | REPO:QUANT | REPO/FILE.gguf   a GGUF run in this kernel
        %%kimi --map df [--schema Model] [--out VAR] [--dry-run]   the cell, {column} filled, for every row
        %%kimi --schema Model [--out VAR]   a typed answer: .data (and VAR) is a validated Model
        %%kimi -f code | text | json | markdown   the answer's code into a new cell below, plain text, JSON

        {name} in a prompt inserts a summary of the notebook variable `name`;
        other braces are left as they are; {{name}} writes a literal {name}.
        {file:PATH} (or --file PATH) attaches a file: text whole, CSV/Parquet described, PDF as text.
        """
        # Imported here, not at module level, so `%load_ext kimi_lab` stays cheap.
        from kimi_lab.common.errors import KimiError
        from kimi_lab.faces.ipython import formats
        from kimi_lab.services import ask as api
        from kimi_lab.tools.approval import stdin_approver
        head, _, rest = line.strip().partition(" ")
        if cell is None and head in SUBCOMMANDS and rest.strip().startswith("-"):
            line = f"{rest} {head}"  # `%kimi models -p openrouter` reads as `%kimi -p openrouter models`
        try:
            opts_text, prompt = split_options(line, _NAMES)
            argv = shlex.split(opts_text)
        except (OptionError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        if "-h" in argv or "--help" in argv or _is_help(prompt if cell is None else f"{prompt} {cell}"):
            print(self.usage())  # `%kimi help`, `%kimi -h`, `%%kimi` with just "help": never sent as a question
            return None
        args = _parser().parse_args(argv)
        if cell is None:
            words = prompt.split()
            if words and words[0] in SUBCOMMANDS and len(words) <= 2 and all(_NAME.match(w) for w in words) \
                    and not _is_question(words):
                return self._subcommand(words[0], words[1] if len(words) > 1 else None, args)
            if words[:1] == ["cache"] and words[1:2] in (["export"], ["import"]):  # its PATH is no _NAME
                return self._subcommand("cache", prompt.strip()[len("cache"):].strip(), args)
        else:
            prompt = f"{prompt}\n{cell}".strip() if prompt else cell
        if args.out is not None and not args.out.isidentifier():
            raise UsageError(f"--out needs a Python variable name, got {args.out!r}")
        if args.map is not None and args.format is not None:
            raise UsageError("-f/--format shapes one answer; --map answers in a DataFrame (drop -f)")
        if args.map is not None and args.cache is not None:
            raise UsageError("--cache is for one question's model calls; --map keeps its own checkpoint (drop --cache)")
        if args.map is not None:
            return self._map(prompt, args)
        if args.dry_run:
            raise UsageError("--dry-run goes with --map VAR (a question per row of a frame)")
        schema = None
        if args.schema is not None:
            schema = self.shell.user_ns.get(args.schema)
            if schema is None:
                raise UsageError(f"--schema {args.schema}: no variable of that name in the notebook (define the "
                                 f"pydantic model or JSON-schema dict first)")
        turn = api.prepare(
            prompt,
            provider=args.provider,
            model=args.model,
            base_url=args.base_url,
            chat=args.chat,
            new=args.new,
            system=args.system,
            temperature=args.temperature,
            top_p=args.top_p,
            max_tokens=args.max_tokens,
            seed=args.seed,
            stop=args.stop,
            reasoning=not args.no_reasoning,
            json=args.json or args.format == "json",
            schema=schema,
            files=args.file,
            namespace=self.shell.user_ns if self.shell is not None else None,
            tools=args.tools,
            max_rounds=args.max_rounds,
            effort=args.effort,
            route=args.route,
            cache=args.cache,
            approve=stdin_approver,
            local={
                "n_ctx": args.n_ctx, "n_threads": args.threads, "n_gpu_layers": args.gpu_layers,
                "cpu_moe": args.cpu_moe, "min_p": args.min_p, "force": args.force_load,
            },
        )
        try:
            result = api.run(turn, formats.view_kind(args.format))
        except KimiError as exc:
            if args.out and exc.partial is not None and schema is None:  # VAR is for the typed value
                self.shell.user_ns[args.out] = exc.partial
            raise
        if args.format == "code":
            print(formats.code_to_new_cell(self.shell, result.content))
        if args.out:
            self.shell.user_ns[args.out] = result.data if schema is not None else result
        return result

    def _map(self, template: str, args: Any) -> Any:
        """`%%kimi --map df`: the cell body is the template, asked for every row (kimi_lab.map)."""
        from kimi_lab.common.errors import KimiError
        from kimi_lab.services.mapping import map_rows

        ns = self.shell.user_ns
        values = {}
        for option, name in (("--map", args.map), ("--schema", args.schema)):
            if name is None:
                continue
            if name not in ns:
                raise UsageError(f"{option} {name}: no variable of that name in the notebook")
            values[option] = ns[name]
        try:
            out = map_rows(
                # stripped: IPython ends a cell with a newline, and the rows' keys must match kimi_lab.map's
                template.strip(), values["--map"], schema=values.get("--schema"), provider=args.provider,
                model=args.model,
                base_url=args.base_url, system=args.system, tools=args.tools or "none",
                temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens, seed=args.seed,
                stop=args.stop, effort=args.effort, route=args.route, concurrency=args.concurrency, rpm=args.rpm,
                tpm=args.tpm, max_cost=args.max_cost, dry_run=args.dry_run, reasoning=False, namespace=ns,
            )
        except KimiError as exc:
            if args.out and exc.partial is not None:
                ns[args.out] = exc.partial  # an interrupted job: the rows answered so far
            raise
        if args.out and not args.dry_run:
            ns[args.out] = out
        return out

    def usage(self) -> str:
        """What `%kimi help`, `%kimi -h` and `%kimi?` show: the magic's docstring and its options."""
        return _parser().format_help().removeprefix("::").strip("\n")

    def _subcommand(self, name: str, arg: str | None, args: Any) -> Any:
        from kimi_lab.faces.ipython import subcommands as reports
        from kimi_lab.services import chats as services

        if name == "providers":
            return reports.providers_table(os.environ)
        if name in ("fix", "explain"):
            from kimi_lab.faces.ipython.fix import ask_about_error

            return ask_about_error(self.shell, name, arg, args)
        if name == "config":
            return reports.config_table(args)
        if name == "models":
            return reports.models_table(args)
        if name == "doctor":
            from kimi_lab.services.doctor import doctor

            return doctor(args)
        if name == "usage":
            return reports.usage_report()
        if name == "history":
            return reports.history(arg)
        if name == "tools":
            return reports.tools_table(args.tools)
        if name == "export":
            return reports.export(arg)
        if name == "reopen":
            print(services.reopen_chat(arg))
            return None
        if name == "chat":
            from kimi_lab.faces.widget.panel import chat

            return chat(arg, provider=args.provider, model=args.model, tools=args.tools or "auto")
        if name == "cache":
            from kimi_lab.faces.ipython.cache_commands import cache_command

            return cache_command(arg)
        if name == "unload":
            from kimi_lab.backends._models import unload

            print(f"unloaded {unload()} local model(s)")
            return None
        print(services.clear_chat(arg))
        return None


def _parser() -> Any:
    """The magic's argument parser, its description the magic's docstring (built on first use)."""
    return parser(KimiMagics.kimi.__doc__ or "")
