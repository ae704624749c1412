"""The built-in notebook tools. Their names are part of the public interface.

The three data tools only read: they run without asking. `run_python` runs code in the
user's real namespace; it is off unless asked for and asks before every run.
"""

from __future__ import annotations

import ast
import contextlib
import io
import traceback
from typing import Any

from kimi_lab.tools.registry import Tool

__all__ = ["BUILTIN_TOOLS", "CODE_TOOLS", "DATA_TOOLS", "describe_variable", "evaluate", "list_variables", "run_python"]


def list_variables(namespace: dict[str, Any]) -> str:
    """List the user's notebook variables (name, type, shape or length, memory, one-line summary).

    Call this first to find out what data the notebook holds.
    """
    from kimi_lab.tools.inspect_vars import list_variables as listing

    return listing(namespace)


def describe_variable(namespace: dict[str, Any], name: str) -> str:
    """Describe one notebook variable in detail, sized to fit: for a DataFrame its columns, dtypes,
    null counts, summary statistics, top categories and first and last rows.

    Args:
        name: the variable's name, as shown by list_variables
    """
    from kimi_lab.tools.inspect_vars import describe_variable as describe

    return describe(namespace, name)


def evaluate(namespace: dict[str, Any], expression: str) -> str:
    """Evaluate one read-only Python expression over the notebook variables and return its value as text.

    Use it for computations such as `sales.groupby("region")["units"].sum().nlargest(3)` or
    `sales.loc[sales.units > 5, "price"].mean()`. Only data is used: numbers, text, lists, dicts,
    numpy arrays and pandas objects, with their read-only methods; lambdas are allowed as arguments.
    Not allowed: assignment, imports, files, calling notebook functions, `inplace=True`, names
    starting with an underscore. Big results are shortened.

    Args:
        expression: a single Python expression using the notebook's variable names
    """
    from kimi_lab.tools.safe_eval import evaluate_text

    def compute() -> str:
        return evaluate_text(expression, namespace)

    return _isolated(compute)


def _isolated(compute: Any) -> str:
    """On Linux, run in a locked-down fork of the kernel (docs/security.md, layer 2); elsewhere in process."""
    from kimi_lab.settings.config import settings

    cfg = settings()
    if not cfg.evaluate_sandbox:
        return compute()
    try:
        from kimi_lab.tools import sandbox
    except ImportError:
        return compute()
    if not sandbox.available():
        return compute()
    from kimi_lab.tools.safe_eval import _limits

    timeout = max(float(cfg.tool_timeout or 30) - 1.0, 1.0)
    return sandbox.run_isolated(compute, timeout=timeout, memory_bytes=_limits.max_bytes() + (256 << 20))


def _split_last_expression(code: str) -> tuple[ast.Module, ast.Expression | None]:
    tree = ast.parse(code, mode="exec")
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
        return tree, last
    return tree, None


def run_python(namespace: dict[str, Any], code: str) -> str:
    """Run Python code in the user's notebook namespace (their real variables) and return its
    printed output, errors and the value of its last expression. The user is asked first.

    Args:
        code: Python statements; the value of a final expression is returned
    """
    from IPython.utils.capture import capture_output

    out, err = io.StringIO(), io.StringIO()
    value: Any = None
    shown: list[str] = []
    with capture_output(stdout=False, stderr=False, display=True) as captured:
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                body, last = _split_last_expression(code)
                exec(compile(body, "<kimi run_python>", "exec"), namespace)
                if last is not None:
                    value = eval(compile(last, "<kimi run_python>", "eval"), namespace)
        except Exception as exc:
            tb = traceback.extract_tb(exc.__traceback__)
            line = next((f.lineno for f in reversed(tb) if f.filename == "<kimi run_python>"), None)
            where = f" (line {line})" if line else ""
            err.write(f"{type(exc).__name__}: {exc}{where}\n")
    try:
        from IPython.display import display

        for output in captured.outputs:  # rich outputs go to the user, the model gets a stand-in
            display(output)
            shown.append(", ".join(sorted(k for k in output.data if k != "text/plain")) or "text")
    except Exception:
        pass
    parts = []
    if out.getvalue():
        parts.append("stdout:\n" + out.getvalue().rstrip())
    if err.getvalue():
        parts.append("stderr:\n" + err.getvalue().rstrip())
    if shown:
        parts.append("shown to the user (not sent to you): " + "; ".join(shown))
    if value is not None:
        from kimi_lab.tools.runner import render_value

        parts.append("value:\n" + render_value(value, 16_000))
    return "\n".join(parts) or "(ran; no output)"


def _builtin(fn: Any, *, ask: bool = False) -> Tool:
    return Tool(fn, builtin=True, ask=ask, skip=("namespace",))


BUILTIN_TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        _builtin(list_variables),
        _builtin(describe_variable),
        _builtin(evaluate),
        _builtin(run_python, ask=True),
    )
}
DATA_TOOLS = ("list_variables", "describe_variable", "evaluate")
CODE_TOOLS = ("run_python",)
