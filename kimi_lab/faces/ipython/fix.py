"""`%kimi fix` and `%kimi explain`: ask about the last error; `fix` puts the corrected cell below, not run.

Also the post_run_cell hook `%load_ext kimi_lab` registers: IPython keeps the last exception but not
which cell raised it, so the hook records that. It runs after every cell, so it does nothing unless the
cell failed, and imports the store only then.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ask_about_error", "record_error"]

#: prepare()'s options that the magic's parsed arguments carry under the same names
_SAME_NAMES = ("provider", "model", "base_url", "chat", "new", "system", "temperature", "top_p", "max_tokens",
               "seed", "stop", "json", "tools", "max_rounds", "effort", "route")
_NONE_YET = {
    "fix": "no error to fix yet: when a cell raises, %kimi fix asks for a corrected cell",
    "explain": "no error to explain yet: when a cell raises, %kimi explain says why",
}


def record_error(result: Any) -> None:
    """post_run_cell: remember the cell's error, if it raised one (a SyntaxError too)."""
    exc = result.error_in_exec or result.error_before_exec
    if not isinstance(exc, Exception) or result.execution_count is None:
        return  # no error, or Ctrl-C / SystemExit: not a bug in the cell
    info = getattr(result, "info", None)
    if not getattr(info, "store_history", True):
        return  # a silent run (a front end's own request) has no cell number of its own
    if str(getattr(info, "raw_cell", "")).lstrip().startswith(("%kimi", "%%kimi")):
        return  # kimi_lab's own failure (no key, a timeout): `%kimi fix` fixes the notebook's code, not that
    from kimi_lab.core.cell_errors import record_cell_error

    record_cell_error(result.execution_count, exc)


def ask_about_error(shell: Any, task: str, cell: str | None, args: Any) -> Any:
    """`%kimi fix [N]` / `%kimi explain [N]`: ask about cell N's error, or the last one."""
    from IPython.core.error import UsageError

    from kimi_lab.common.errors import KimiError
    from kimi_lab.faces.ipython.formats import code_blocks, view_kind
    from kimi_lab.services import ask as api
    from kimi_lab.services.last_error import error_prompt, find_error
    from kimi_lab.tools.approval import stdin_approver

    if args.out is not None and not args.out.isidentifier():
        raise UsageError(f"--out needs a Python variable name, got {args.out!r}")
    history = getattr(shell, "history_manager", None)
    inputs = history.input_hist_raw if history is not None else shell.user_ns.get("In")
    error = find_error(inputs, int(cell) if cell is not None else None)
    if error is None:
        print(_NONE_YET[task] if cell is None else f"cell [{cell}] raised no error that kimi_lab saw")
        return None
    prompt, notes = error_prompt("fix" if task == "fix" else "explain", error, shell.user_ns)
    turn = api.prepare(
        prompt, literal=True, namespace=shell.user_ns, approve=stdin_approver, reasoning=not args.no_reasoning,
        **{name: getattr(args, name) for name in _SAME_NAMES},
        local={"n_ctx": args.n_ctx, "n_threads": args.threads, "n_gpu_layers": args.gpu_layers,
               "cpu_moe": args.cpu_moe, "min_p": args.min_p, "force": args.force_load},
    )
    turn.result.warnings.extend(notes)
    try:
        result = api.run(turn, view_kind(getattr(args, "format", None)))
    except KimiError as exc:
        if args.out and exc.partial is not None:
            shell.user_ns[args.out] = exc.partial
        raise
    if args.out:
        shell.user_ns[args.out] = result
    if task == "fix":
        blocks = [block for block in code_blocks(result.content) if block.strip()]
        if blocks:
            shell.set_next_input(blocks[-1], replace=False)  # the prompt asks for the cell last
        where = f"cell [{error.cell}]" if error.cell is not None else "the cell"
        print(f"the corrected {where} is in a new cell below, not run: read it, then run it" if blocks
              else "the answer has no code block: no cell was added")
    return result
