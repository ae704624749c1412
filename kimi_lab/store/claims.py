"""Who is asking a row right now: leases in the map checkpoint, so two kernels on one checkpoint never pay
for the same row (or create the same batch) twice.

A claim names its job (a fresh token), the process and its host, and runs until a lease time the job keeps
renewing. Another job may take it over only when it has lapsed, or, on the same host, when the process is
gone: a kernel killed mid-run (SIGKILL leaves no time to release anything) does not hold its rows for a
whole lease, and a zombie or a reused pid does not count as alive (Linux's /proc names the process's
state and start time).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CLAIMS_SCHEMA", "Holder", "Owner", "alive", "take"]

CLAIMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims(key TEXT PRIMARY KEY, owner TEXT NOT NULL, host TEXT, pid INTEGER,
    started TEXT, until REAL NOT NULL);
CREATE INDEX IF NOT EXISTS claims_owner ON claims(owner);
"""
_KEYS = 150  # keys per statement: 6 values a claim stays far under SQLite's limit on bound variables


def _started(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' where /proc is not there to say)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


@dataclass(frozen=True)
class Owner:
    """One job in one process: its claims, and how another process tells whether it still runs."""

    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    started: str = field(default_factory=lambda: _started(os.getpid()))


@dataclass(frozen=True)
class Holder:
    """The live job that holds a claim another one asked for."""

    pid: int
    host: str
    same_process: bool


def alive(host: str, pid: int, started: str, here: Owner) -> bool:
    """Whether a claim's process may still be running. Another host cannot be asked: its lease decides."""
    if host != here.host:
        return True
    if pid == here.pid:
        return True
    if Path("/proc/self/stat").exists():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False  # no such process
        fields = stat.rsplit(")", 1)[-1].split()
        if not fields or fields[0] in ("Z", "X", "x"):
            return False  # killed, not yet reaped by its parent: it will never answer
        return not started or len(fields) <= 19 or fields[19] == started  # else the pid was reused
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def take(db: sqlite3.Connection, keys: list[str], owner: Owner, lease: float) -> dict[str, Holder | None]:
    """Claim each of `keys` for `owner` unless another live job holds it (then that job, for the key). The caller
    runs this inside an immediate transaction, for keys not answered meanwhile. A few statements for any
    number of keys: each statement lets other threads run, and the job's workers wait on its lock meanwhile."""
    now = time.time()
    out: dict[str, Holder | None] = {}
    living: dict[tuple[str, int, str], bool] = {}
    for start in range(0, len(keys), _KEYS):
        chunk = keys[start:start + _KEYS]
        marks = ",".join("?" * len(chunk))
        for key, token, host, pid, started, until in db.execute(
                f"SELECT key, owner, host, pid, started, until FROM claims WHERE key IN ({marks})", chunk):
            if token == owner.token or not isinstance(until, (int, float)) or until <= now:
                continue
            process = (str(host), pid if isinstance(pid, int) else -1, str(started or ""))
            if process not in living:
                living[process] = alive(*process, owner)
            if living[process]:
                out[key] = Holder(process[1], process[0], process[0] == owner.host and process[1] == owner.pid)
        mine = [key for key in chunk if key not in out]
        for key in mine:
            out[key] = None
        if mine:
            db.execute("INSERT OR REPLACE INTO claims VALUES " + ",".join(["(?,?,?,?,?,?)"] * len(mine)),
                       [v for key in mine for v in (key, owner.token, owner.host, owner.pid, owner.started,
                                                    now + lease)])
    return out
