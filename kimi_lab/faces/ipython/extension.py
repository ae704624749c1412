"""`%load_ext kimi_lab`: registers the magics and the settings. Imports nothing heavy."""

from __future__ import annotations

from typing import Any

from kimi_lab.settings.config import KimiLab, use_settings

__all__ = ["load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(shell: Any) -> None:
    from kimi_lab.faces.ipython.fix import record_error
    from kimi_lab.faces.ipython.magics import KimiMagics
    from kimi_lab.faces.ipython.transform import protect_question_marks

    cfg = KimiLab(parent=shell)  # reads c.KimiLab from ipython_config.py
    use_settings(cfg)
    if cfg not in shell.configurables:
        shell.configurables.append(cfg)  # makes `%config KimiLab` work
    shell.register_magics(KimiMagics)
    transforms = shell.input_transformer_manager.line_transforms
    if protect_question_marks not in transforms:
        transforms.append(protect_question_marks)
    if record_error not in shell.events.callbacks["post_run_cell"]:
        shell.events.register("post_run_cell", record_error)  # which cell raised: %kimi fix, {Err[N]}
    if getattr(getattr(shell, "kernel", None), "comm_manager", None) is not None:
        from kimi_lab.faces.comm.dispatch import register_comm_target  # only in a kernel: the sidebar's comm

        register_comm_target(shell)


def unload_ipython_extension(shell: Any) -> None:
    from kimi_lab.faces.ipython.fix import record_error
    from kimi_lab.faces.ipython.transform import protect_question_marks

    if record_error in shell.events.callbacks["post_run_cell"]:
        shell.events.unregister("post_run_cell", record_error)

    transforms = shell.input_transformer_manager.line_transforms
    if protect_question_marks in transforms:
        transforms.remove(protect_question_marks)
    magics = shell.magics_manager.magics
    magics["line"].pop("kimi", None)
    magics["cell"].pop("kimi", None)
