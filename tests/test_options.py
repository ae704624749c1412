import pytest

from kimi_lab.faces.ipython.arguments import ARGUMENTS
from kimi_lab.faces.ipython.magics import _parser
from kimi_lab.faces.ipython.options import OptionError, option_names, split_options

NAMES = option_names(ARGUMENTS)


@pytest.mark.parametrize(
    "line, opts, prompt",
    [
        ("what's 2+2?", "", "what's 2+2?"),
        ("-m kimi-x --new explain -1 vs --flag", "-m kimi-x --new", "explain -1 vs --flag"),
        ('--system "be brief, please" --json list {"a": 1}', '--system "be brief, please" --json', 'list {"a": 1}'),
        ("--temperature=0.2 hi", "--temperature=0.2", "hi"),
        ("--chat work -- --not-an-option", "--chat work", "--not-an-option"),
        ("--new", "--new", ""),
        ("", "", ""),
    ],
)
def test_split_keeps_prompt_verbatim(line, opts, prompt):
    assert split_options(line, NAMES) == (opts, prompt)


def test_unknown_option_is_named():
    with pytest.raises(OptionError, match="unknown option --modle"):
        split_options("--modle x hi", NAMES)


def test_missing_value():
    with pytest.raises(OptionError, match="needs a value"):
        split_options("--model", NAMES)


def test_every_option_the_magic_declares_is_read_as_an_option():
    """One list: the parser's. An option added to the magic is known to the splitter at once."""
    for action in _parser()._actions:
        for option in action.option_strings:
            line = f"{option} x hi" if action.nargs != 0 else f"{option} hi"
            opts, prompt = split_options(line, NAMES)
            assert prompt == "hi" and opts.startswith(option), option
    assert {"-h", "--help"} <= NAMES.flags and "--stop" in NAMES.values and "--new" in NAMES.flags
