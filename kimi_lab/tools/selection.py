"""Which tools the model is offered, from `--tools` or `KimiLab.tools`.

    auto      the three read-only data tools plus your registered tools (the default)
    data      only list_variables, describe_variable, evaluate
    none      no tools
    +code     auto plus run_python (asks before every run); "+name" adds any tool
    a,b,c     exactly these tools (built-in or yours); "code" means run_python
"""

from __future__ import annotations

from kimi_lab.common.errors import KimiConfigError
from kimi_lab.tools.registry import Tool, registry

__all__ = ["select_tools"]


def select_tools(spec: str | None) -> dict[str, Tool]:
    from kimi_lab.tools.notebook import BUILTIN_TOOLS, CODE_TOOLS, DATA_TOOLS

    user = registry.all()
    known = {**BUILTIN_TOOLS, **user}
    data = {n: BUILTIN_TOOLS[n] for n in DATA_TOOLS}
    spec = (spec or "auto").strip()
    if spec == "none":
        return {}
    if spec == "data":
        return data
    chosen: dict[str, Tool] = {}
    items = [s.strip() for s in spec.split(",") if s.strip()]
    if spec == "auto" or all(item.startswith("+") for item in items):
        chosen = {**data, **user}
        items = [item[1:] for item in items if item.startswith("+")]
    for item in items:
        if item == "auto":
            chosen.update(data)
            chosen.update(user)
            continue
        names = CODE_TOOLS if item == "code" else DATA_TOOLS if item == "data" else (item,)
        for name in names:
            if name not in known:
                raise KimiConfigError(
                    f"unknown tool {name!r} in --tools: choose from auto, data, none, code, "
                    f"{', '.join(sorted(known))}"
                )
            chosen[name] = known[name]
    return chosen
