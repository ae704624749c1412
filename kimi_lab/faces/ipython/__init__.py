"""%kimi / %%kimi: the extension, the magics, their options and subcommands."""
