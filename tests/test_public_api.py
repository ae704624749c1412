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
