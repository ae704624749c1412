"""`%kimi cache [clear | export PATH | import PATH]`: the replay cache, as a notebook sees it.

An exported file travels with the notebook: `%kimi cache import PATH` then `%config KimiLab.cache = 'replay'`
re-runs it with no key and no network (services/cache.py)."""

from __future__ import annotations

import shlex
from typing import Any

from IPython.core.error import UsageError

from kimi_lab.common.tables import Table
from kimi_lab.services.cache import cache_path, open_cache
from kimi_lab.settings.config import settings

__all__ = ["cache_command", "cache_table"]

USAGE = "%kimi cache, %kimi cache clear, %kimi cache export PATH or %kimi cache import PATH"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n:,} bytes"
    return f"{n / 1024:,.1f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:,.1f} MB"


def _entries(n: int) -> str:
    return f"{n:,} entr{'y' if n == 1 else 'ies'}"


def cache_command(arg: str | None) -> Any:
    """What `%kimi cache …` shows or does; a usage mistake is one line naming the forms."""
    try:
        words = shlex.split(arg) if arg else []
    except ValueError as exc:
        raise UsageError(f"%kimi cache {arg}: {exc}") from None
    if not words:
        return cache_table()
    verb, paths = words[0], words[1:]
    if verb == "clear" and not paths:
        with open_cache() as cache:
            print(f"cleared the replay cache: {_entries(cache.clear())}")
        return None
    if verb in ("export", "import"):
        if len(paths) != 1:
            raise UsageError(f"%kimi cache {verb} takes one PATH (quote a path that has spaces)")
        with open_cache() as cache:
            if verb == "export":
                print(f"exported {_entries(cache.export(paths[0]))} to {paths[0]}")
            else:
                added, kept = cache.merge(paths[0])
                already = f" ({_entries(kept)} already here)" if kept else ""
                print(f"imported {_entries(added)} from {paths[0]}{already}")
        return None
    raise UsageError(f"unknown cache command {verb!r}: use {USAGE}")


def cache_table() -> Table | None:
    """Entries and size by provider and model; one line when there are none."""
    mode = settings().cache
    with open_cache() as cache:
        stats = cache.stats()
    where = cache_path()
    if not stats.entries:
        print(f"the replay cache in {where} is empty (KimiLab.cache = {mode!r}; 'use' records model calls)")
        return None
    rows = [[provider, model, f"{n:,}", _size(size)] for provider, model, n, size in stats.by_model]
    return Table(["provider", "model", "entries", "size"], rows,
                 title=f"Replay cache: {_entries(stats.entries)}, {_size(stats.size)} in {where} "
                       f"(KimiLab.cache = {mode!r})")
