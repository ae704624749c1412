"""Split a magic line into its leading options and the prompt, leaving the prompt untouched.

argparse over the whole line would eat prompt words that look like options and choke on
apostrophes; here options are read only up to the first word that is not one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from kimi_lab.faces.ipython.arguments import FLAG_ACTIONS

__all__ = ["OptionError", "OptionNames", "option_names", "split_options"]


class OptionNames:
    """The magic's options, as its argument table declares them (the one list of them).

    A plain class, not a dataclass: the dataclass machinery alone cost `%load_ext` a millisecond.
    """

    __slots__ = ("flags", "values")

    def __init__(self, values: frozenset[str], flags: frozenset[str]) -> None:
        self.values = values  # take a value: `-m kimi-k2.6`, `--model=kimi-k2.6`
        self.flags = flags  # stand alone: `--new`, `-h`


def option_names(arguments: Iterable[tuple[tuple[str, ...], dict[str, Any]]]) -> OptionNames:
    """Read the option names from `arguments` (the `%kimi` magic's table), so nothing keeps a second list."""
    values: set[str] = set()
    flags: set[str] = {"-h", "--help"}  # IPython's magic parsers have no help action; kimi_lab answers these
    for names, kwargs in arguments:
        (flags if kwargs.get("action") in FLAG_ACTIONS else values).update(names)
    return OptionNames(frozenset(values), frozenset(flags - values))


_TOKEN = re.compile(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|\S+")
_OPTION_LIKE = re.compile(r"^--?[A-Za-z]")


class OptionError(ValueError):
    pass


def split_options(line: str, names: OptionNames) -> tuple[str, str]:
    """(options part, prompt part) of a magic line."""
    pos = 0
    expect_value = False
    for match in _TOKEN.finditer(line):
        token = match.group(0)
        if expect_value:
            expect_value = False
            pos = match.end()
            continue
        name = token.split("=", 1)[0]
        if token == "--":
            return line[:match.start()].strip(), line[match.end():].strip()
        if name in names.values:
            expect_value = "=" not in token
        elif token in names.flags:
            pass
        elif _OPTION_LIKE.match(token):
            known = ", ".join(sorted(names.values | names.flags))
            raise OptionError(
                f"unknown option {token}; known options: {known} (put -- before a prompt that starts with -)"
            )
        else:
            return line[:match.start()].strip(), line[match.start():].strip()
        pos = match.end()
    if expect_value:
        raise OptionError(f"option {line[:pos].split()[-1]} needs a value")
    return line[:pos].strip(), ""
