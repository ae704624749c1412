"""Who is asking a row right now: leases in the map checkpoint, so two kernels on one checkpoint never pay
for the same row (or create the same batch) twice.

A claim names its job (a fresh token), the process (host, boot, pid, start time) and runs until a lease time
the job keeps renewing. Another job may take it over when the lease has lapsed, or at once when the process
is gone: a kernel killed mid-run (SIGKILL leaves no time to release anything) does not hold its rows for a
whole lease, and a zombie or a reused pid does not count as alive (Linux's /proc names the process's state
and start time).

Which clock: SQLite's WAL mode works only between processes of one machine ("all processes using a database
must be on the same host computer; WAL does not work over a network filesystem", https://www.sqlite.org/wal.html:
its -shm file is shared memory), so a claim is almost always judged on the machine that wrote it, on
CLOCK_MONOTONIC, which all processes of one boot share and which no NTP step or clock change moves. The
wall clock is the fallback for a claim of another boot; a lease longer than any job writes is garbage (a
fast clock elsewhere, a damaged file) and counts as lapsed.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CLAIMS_SCHEMA", "MAX_LEASE", "Holder", "Owner", "alive", "clocks", "take"]

CLAIMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims(key TEXT PRIMARY KEY, owner TEXT NOT NULL, host TEXT, pid INTEGER,
    started TEXT, until REAL, boot TEXT, until_mono REAL);
CREATE INDEX IF NOT EXISTS claims_owner ON claims(owner);
"""
_KEYS = 120  # keys per statement: 8 values a claim stays far under SQLite's limit on bound variables
MAX_LEASE = 900.0  # seconds: above the longest lease any job writes (a batch's 180 s), so longer is garbage


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _started(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' where /proc is not there to say)."""
    fields = _read(f"/proc/{pid}/stat").rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


_BOOT = _read("/proc/sys/kernel/random/boot_id")  # '' off Linux: then only the wall clock is compared


@dataclass(frozen=True)
class Owner:
    """One job in one process: its claims, and how another process tells whether it still runs."""

    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    started: str = field(default_factory=lambda: _started(os.getpid()))
    boot: str = _BOOT


@dataclass(frozen=True)
class Holder:
    """The live job that holds a claim another one asked for."""

    pid: int
    host: str
    same_process: bool


def alive(host: str, pid: int, started: str, here: Owner) -> bool:
    """Whether a process of this boot may still be running. Another host's cannot be asked: its lease decides."""
    if host != here.host:
        return True
    if pid == here.pid:
        return True
    if Path("/proc/self/stat").exists():
        stat = _read(f"/proc/{pid}/stat")
        if not stat:
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


def clocks(lease: float) -> tuple[float, float]:
    """A claim's end on both clocks: (wall, monotonic)."""
    return time.time() + lease, time.monotonic() + lease


def _left(until: Any, boot: Any, until_mono: Any, here: Owner) -> float:
    """Seconds a claim has still to run, judged on the monotonic clock when it was written in this boot."""
    if here.boot and boot == here.boot and isinstance(until_mono, (int, float)):
        return until_mono - time.monotonic()
    if isinstance(until, (int, float)):
        return until - time.time()
    return 0.0  # no readable end: lapsed


def _holds(row: tuple[Any, ...], here: Owner, living: dict[tuple[str, int, str], bool]) -> Holder | None:
    """The job behind a claim row, if it still holds it."""
    _, token, host, pid, started, until, boot, until_mono = row
    left = _left(until, boot, until_mono, here)
    if token == here.token or left <= 0 or left > MAX_LEASE:
        return None
    host, pid, started = str(host), pid if isinstance(pid, int) else -1, str(started or "")
    if host == here.host and here.boot and boot != here.boot:
        return None  # this machine, an earlier boot: no process survives a reboot
    if boot == here.boot or not here.boot:
        process = (host, pid, started)
        if process not in living:
            living[process] = alive(*process, here)
        if not living[process]:
            return None
    return Holder(pid, host, host == here.host and pid == here.pid)


def take(db: sqlite3.Connection, keys: list[str], owner: Owner, lease: float) -> dict[str, Holder | None]:
    """Claim each of `keys` for `owner` unless another live job holds it (then that job, for the key). The caller
    runs this inside an immediate transaction, for keys not answered meanwhile. A few statements for any
    number of keys: each statement lets other threads run, and the job's workers wait on its lock meanwhile."""
    out: dict[str, Holder | None] = {}
    living: dict[tuple[str, int, str], bool] = {}
    until, until_mono = clocks(lease)
    for start in range(0, len(keys), _KEYS):
        chunk = keys[start:start + _KEYS]
        marks = ",".join("?" * len(chunk))
        for row in db.execute("SELECT key, owner, host, pid, started, until, boot, until_mono FROM claims "
                              f"WHERE key IN ({marks})", chunk):
            holder = _holds(row, owner, living)
            if holder is not None:
                out[row[0]] = holder
        mine = [key for key in chunk if key not in out]
        for key in mine:
            out[key] = None
        if mine:
            db.execute("INSERT OR REPLACE INTO claims VALUES " + ",".join(["(?,?,?,?,?,?,?,?)"] * len(mine)),
                       [v for key in mine for v in (key, owner.token, owner.host, owner.pid, owner.started, until,
                                                    owner.boot, until_mono)])
    return out
