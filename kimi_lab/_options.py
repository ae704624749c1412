"""Split a magic line into its leading options and the prompt, leaving the prompt untouched.

argparse over the whole line would eat prompt words that look like options and choke on
apostrophes; here options are read only up to the first word that is not one.
"""

from __future__ import annotations

import re

__all__ = ["FLAG_OPTIONS", "VALUE_OPTIONS", "split_options"]

VALUE_OPTIONS = {
    "-p", "--provider", "-m", "--model", "--base-url", "--chat", "--system", "--temperature",
    "--top-p", "--max-tokens", "--seed", "--stop", "--out", "--tools", "--max-rounds",
    "--n-ctx", "--threads", "--gpu-layers", "--min-p", "--effort", "--route",
}
FLAG_OPTIONS = {"--new", "--no-reasoning", "--json", "--cpu-moe", "--force-load", "-h", "--help", "-y", "--yes"}
_TOKEN = re.compile(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|\S+")
_OPTION_LIKE = re.compile(r"^--?[A-Za-z]")


class OptionError(ValueError):
    pass


def split_options(line: str) -> tuple[str, str]:
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
        if name in VALUE_OPTIONS:
            expect_value = "=" not in token
        elif token in FLAG_OPTIONS:
            pass
        elif _OPTION_LIKE.match(token):
            known = ", ".join(sorted(VALUE_OPTIONS | FLAG_OPTIONS))
            raise OptionError(
                f"unknown option {token}; known options: {known} (put -- before a prompt that starts with -)"
            )
        else:
            return line[:match.start()].strip(), line[match.start():].strip()
        pos = match.end()
    if expect_value:
        raise OptionError(f"option {line[:pos].split()[-1]} needs a value")
    return line[:pos].strip(), ""
