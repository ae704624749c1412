"""The public surface: every exported name resolves, and importing stays cheap."""

from __future__ import annotations

import subprocess
import sys

import kimi_lab

HEAVY = ("openai", "pandas", "numpy", "llama_cpp", "huggingface_hub", "ipywidgets", "anywidget")


def test_every_exported_name_resolves():
    assert sorted(kimi_lab.__all__) == sorted(set(kimi_lab.__all__))
    for name in kimi_lab.__all__:
        assert getattr(kimi_lab, name) is not None, name
    assert callable(kimi_lab.native.parse) and callable(kimi_lab.native.render)


def test_the_three_lists_of_the_public_names_agree():
    """`__all__` (what `import *` and readers see), `_LAZY` (what loads on first use) and the
    TYPE_CHECKING imports (what type checkers see) are written three times; this keeps them one."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(kimi_lab))
    checked = next(node for node in tree.body if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test))
    typed = {(alias.asname or alias.name): (node.module, alias.name)
             for node in checked.body if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert {name: (f"{module}", attr) for name, (module, attr) in kimi_lab._LAZY.items()} == typed
    eager = {"__version__", "load_ipython_extension", "unload_ipython_extension"}
    assert set(kimi_lab.__all__) == set(kimi_lab._LAZY) | eager


def test_import_and_load_ext_import_nothing_heavy():
    code = (
        "import sys, kimi_lab\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.instance().run_line_magic('load_ext', 'kimi_lab')\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_every_module_exports_what_it_defines():
    """httpx's `test_exported_members`, for every public module: `__all__` resolves and names each
    class and function the module defines (private modules, `_name.py`, are exempt)."""
    import importlib
    import inspect
    import pkgutil

    problems = []
    for info in pkgutil.walk_packages(kimi_lab.__path__, "kimi_lab."):
        if ".labextension" in info.name or info.ispkg or info.name.rsplit(".", 1)[1].startswith("_"):
            continue
        module = importlib.import_module(info.name)
        exported = getattr(module, "__all__", None)
        if exported is None:
            problems.append(f"{info.name}: no __all__")
            continue
        defined = {name for name, value in vars(module).items() if not name.startswith("_")
                   and (inspect.isclass(value) or inspect.isfunction(value)) and value.__module__ == info.name}
        problems += [f"{info.name}: {name} is defined but not in __all__" for name in sorted(defined - set(exported))]
        problems += [f"{info.name}: __all__ names {name}, which it lacks" for name in exported
                     if not hasattr(module, name)]
    assert problems == []
