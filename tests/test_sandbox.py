"""The process sandbox (kimi_lab.tools.sandbox): a forked, locked-down child runs the evaluation.

Each protection has a test here that fails when that protection is removed. Protections overlap on
purpose (a file write is stopped by seccomp, by Landlock and, for growth, by RLIMIT_FSIZE), so besides the
full sandbox, the layer tests run the child with one protection alone through the private `_parent.run`.
Every wait is bounded: deadlines on run_isolated, timeouts on joins, polls and socket accepts.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import select
import signal
import socket
import stat
import struct
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import pytest

from kimi_lab.tools import sandbox
from kimi_lab.tools.sandbox import (
    ChildError,
    SandboxCrashed,
    SandboxError,
    SandboxMemory,
    SandboxTimeout,
    _landlock,
    _parent,
    _seccomp,
    _syscalls,
    protections,
    run_isolated,
)

pytestmark = pytest.mark.skipif(not sandbox.available(), reason="the process sandbox needs Linux and os.fork")

MB = 1 << 20
PROTECTIONS = protections() if sandbox.available() else {}
needs_landlock = pytest.mark.skipif(not PROTECTIONS.get("landlock"), reason="this kernel has no Landlock")
needs_landlock_net = pytest.mark.skipif(not PROTECTIONS.get("landlock_network"),
                                        reason="this kernel's Landlock ABI < 4 has no network rules")
needs_landlock_scopes = pytest.mark.skipif(not PROTECTIONS.get("landlock_scopes"),
                                           reason="this kernel's Landlock ABI < 6 cannot scope signals")
needs_seccomp = pytest.mark.skipif(not PROTECTIONS.get("seccomp"), reason="no seccomp filter for this kernel/arch")


def run(fn: Callable[[], str], *, timeout: float = 20.0, memory: int = 512 * MB, layers: set[str] | None = None,
        wait: float | None = None) -> str:
    chosen = _parent.LAYERS if layers is None else frozenset(layers)
    return _parent.run(fn, timeout=timeout, memory_bytes=memory, layers=chosen, wait=wait)


def attempts(**actions: Callable[[], object]) -> Callable[[], str]:
    """An fn for the child that tries each action and reports "ok" or the exception's type name, as JSON."""

    def fn() -> str:
        out = {}
        for name, action in actions.items():
            try:
                action()
                out[name] = "ok"
            except Exception as exc:
                out[name] = f"{type(exc).__name__}: {exc}"
        return json.dumps(out)

    return fn


def failed(report: str, *names: str) -> None:
    outcome = json.loads(report)
    allowed = {name: outcome[name] for name in names if outcome[name] == "ok"}
    assert not allowed, f"these succeeded inside the sandbox: {allowed}"


def children(pid: int) -> list[int]:
    """Every process (zombies included) whose parent is `pid`, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0].decode()
    except OSError:
        return None


def wait_for(condition: Callable[[], object], seconds: float) -> object:
    """Poll a condition until it holds or the deadline passes (short waits on an Event, never unbounded)."""
    deadline = time.monotonic() + seconds
    pause = threading.Event()
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        pause.wait(0.01)


def rss() -> int:
    with open("/proc/self/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) * 1024


def spin() -> str:
    while True:
        pass


_before: set[int] = set()


def _cmdline(pid: int) -> bytes | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return None


def leftover() -> list[int]:
    """Forks of this process that the current test started and nobody reaped (a fork keeps our command
    line; a kernel or server another test module started in the background does not, nor does a zombie
    whose command line is gone, which waitpid below still finds)."""
    ours = _cmdline(os.getpid())
    return sorted(pid for pid in set(children(os.getpid())) - _before if _cmdline(pid) in (ours, b"", None))


@pytest.fixture(autouse=True)
def _no_children_left() -> Iterator[None]:
    _before.clear()
    _before.update(children(os.getpid()))  # other test modules' processes are not ours to judge
    yield
    assert wait_for(lambda: not leftover(), 5), f"children left behind: {leftover()}"


# --- copy-on-write: the notebook's objects -------------------------------------------------------------


def test_fn_mutating_the_users_objects_changes_nothing_in_the_kernel():
    arr = np.arange(10.0)
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    items = [1, 2, 3]
    table = {"k": "v"}
    before = (arr.copy(), df.copy(deep=True), list(items), dict(table))

    def vandal() -> str:
        arr[:] = -1
        arr.resize(0, refcheck=False)
        df.loc[0, "a"] = 999
        df["c"] = 1
        df.drop(columns="b", inplace=True)
        items.append("x")
        items[0] = "changed"
        table.clear()
        return f"{arr.size} {df.shape} {items} {table}"

    assert run_isolated(vandal, timeout=10, memory_bytes=256 * MB) == "0 (3, 2) ['changed', 2, 3, 'x'] {}"
    np.testing.assert_array_equal(arr, before[0])
    pd.testing.assert_frame_equal(df, before[1])
    assert items == before[2] and table == before[3]


# --- memory --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("allocate", [
    lambda: bytearray(10**11),
    lambda: np.ones(10**10),
    lambda: bytearray(1 << 30),  # 1 GiB: would succeed without RLIMIT_AS on this machine
    lambda: np.ones(200_000_000),  # 1.6 GB, written
    lambda: [bytes(1000) for _ in range(2_000_000)],  # 2 GB of small objects
], ids=["bytearray-100GB", "np.ones-80GB", "bytearray-1GiB", "np.ones-1.6GB", "list-of-str-2GB"])
def test_allocating_past_the_budget_is_refused_and_the_kernel_is_unchanged(allocate):
    kept = np.arange(1000.0)
    before = rss()
    with pytest.raises(SandboxMemory, match="more than 256 MiB"):
        run_isolated(lambda: str(len(allocate())), timeout=20, memory_bytes=256 * MB)
    assert rss() - before < 64 * MB
    np.testing.assert_array_equal(kept, np.arange(1000.0))


def test_the_child_cannot_raise_its_own_memory_limit_even_as_root():
    import resource

    def fn() -> str:
        try:
            resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        except (OSError, ValueError):  # Python reports EPERM here as ValueError
            pass
        return str(len(bytearray(1 << 30)))

    with pytest.raises(SandboxMemory):
        run_isolated(fn, timeout=20, memory_bytes=256 * MB)


def test_the_child_cannot_change_another_processs_limits():
    import resource

    victim = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        before = resource.prlimit(victim.pid, resource.RLIMIT_NOFILE)
        report = run(attempts(prlimit=lambda: resource.prlimit(victim.pid, resource.RLIMIT_NOFILE, (3, 3))))
        failed(report, "prlimit")
        assert resource.prlimit(victim.pid, resource.RLIMIT_NOFILE) == before
    finally:
        victim.kill()
        victim.wait(10)


def test_the_child_is_the_out_of_memory_killers_first_choice():
    # /proc is unreadable under Landlock, so this one runs without it
    layers = set(_parent.LAYERS) - {"landlock"}
    assert run(lambda: open("/proc/self/oom_score_adj").read().strip(), layers=layers) == "1000"
    with open("/proc/self/oom_score_adj") as f:
        assert f.read().strip() != "1000", "the kernel's own score is left alone"


# --- time ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [spin, lambda: str(re.match("(a+)+$", "a" * 40 + "b"))], ids=["loop", "regex"])
def test_a_runaway_evaluation_is_killed_at_the_deadline_and_reaped(fn):
    start = time.monotonic()
    with pytest.raises(SandboxTimeout, match="longer than 1 s"):
        run_isolated(fn, timeout=1.0, memory_bytes=256 * MB)
    assert time.monotonic() - start < 3.0
    assert leftover() == [], "killed and reaped at once, no zombie"


def test_the_cpu_limit_stops_a_spinning_child_even_if_the_parent_waits_longer():
    start = time.monotonic()
    with pytest.raises(SandboxTimeout, match="CPU time"):
        run(spin, timeout=1.0, wait=30.0)
    assert time.monotonic() - start < 8.0


def test_a_child_blocked_on_a_lock_another_thread_held_at_fork_is_killed_at_the_deadline():
    lock = threading.Lock()
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with lock:
            held.set()
            release.wait(30)

    t = threading.Thread(target=holder, daemon=True)
    t.start()
    try:
        assert held.wait(10)
        with pytest.raises(SandboxTimeout):
            run_isolated(lambda: str(lock.acquire()), timeout=1.0, memory_bytes=256 * MB)
    finally:
        release.set()
        t.join(10)


@pytest.mark.parametrize("error", ["ToolTimeout", "KeyboardInterrupt"])
def test_an_interrupt_of_the_waiting_caller_kills_and_reaps_the_child(error):
    from kimi_lab.tools.timeout import ToolTimeout, call_with_timeout

    start = time.monotonic()
    if error == "ToolTimeout":
        with pytest.raises(ToolTimeout):
            call_with_timeout(lambda: run_isolated(spin, timeout=30, memory_bytes=256 * MB), 0.5)
    else:
        previous = signal.signal(signal.SIGALRM, signal.default_int_handler)
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        try:
            with pytest.raises(KeyboardInterrupt):
                run_isolated(spin, timeout=30, memory_bytes=256 * MB)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - start < 5.0
    assert leftover() == []


def test_an_interrupt_arriving_between_fork_and_the_wait_still_reaps_the_child(monkeypatch):
    class Alarm(Exception):
        pass

    def expire(signum, frame):
        raise Alarm

    watch = _parent._Child.__init__
    sent: list[int] = []

    def interrupted(self, pid: int) -> None:
        # One interrupt: another thread may take it and run the handler here before the child is watched,
        # and then the cleanup watches the child again; a second alarm there would be a second interrupt.
        if not sent:
            sent.append(pid)
            os.kill(os.getpid(), signal.SIGALRM)  # lands in the gap between fork and the try that reaps
        watch(self, pid)

    monkeypatch.setattr(_parent._Child, "__init__", interrupted)
    previous = signal.signal(signal.SIGALRM, expire)
    try:
        with pytest.raises(Alarm):
            run_isolated(spin, timeout=30, memory_bytes=256 * MB)
    finally:
        signal.signal(signal.SIGALRM, previous)
        stranded = leftover()
        for pid in stranded:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    assert stranded == [], "the child was left running"


def test_an_interrupt_taken_by_another_thread_still_stops_the_wait_at_once(monkeypatch):
    """Around fork the waiting thread blocks SIGINT/SIGALRM, so the kernel hands a signal arriving then to
    another thread (ipykernel has several). Python runs the handler only when the waiting thread runs
    bytecode again: the wait is sliced, so the interrupt lands in a fraction of a second, not at the
    child's deadline."""
    class Alarm(Exception):
        pass

    def expire(signum, frame):
        raise Alarm

    parked = threading.Event()
    other = threading.Thread(target=parked.wait, args=(30,), daemon=True)
    other.start()
    watch = _parent._Child.__init__
    sent: list[int] = []

    def interrupted(self, pid: int) -> None:
        if not sent:  # one interrupt: the cleanup that watches the child again must not get a second
            sent.append(pid)
            signal.pthread_kill(other.ident, signal.SIGALRM)  # taken by the other thread
        watch(self, pid)

    monkeypatch.setattr(_parent._Child, "__init__", interrupted)
    previous = signal.signal(signal.SIGALRM, expire)
    started = time.monotonic()
    try:
        with pytest.raises(Alarm):
            run_isolated(spin, timeout=20, memory_bytes=256 * MB)
    finally:
        signal.signal(signal.SIGALRM, previous)
        parked.set()
    assert time.monotonic() - started < 5, "the interrupt waited for the child's deadline"
    assert wait_for(lambda: not leftover(), 10), "the child was left running"


def test_an_interrupt_that_lands_before_the_child_is_watched_still_kills_it(monkeypatch):
    """A signal another thread took runs its handler here at the next bytecode: it may land while the
    child is being set up (this test makes it land in the middle of that), and must not strand it."""
    class Interrupt(Exception):
        pass

    watch = _parent._Child.__init__
    raised: list[int] = []

    def interrupted(self, pid: int) -> None:
        if not raised:
            raised.append(pid)
            raise Interrupt
        watch(self, pid)

    monkeypatch.setattr(_parent._Child, "__init__", interrupted)
    before = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    with pytest.raises(Interrupt):
        run_isolated(spin, timeout=20, memory_bytes=256 * MB)
    assert raised and wait_for(lambda: not leftover(), 10), "the child was left running"
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == before, \
        "SIGINT left blocked: later interrupts (and kernels started from here) would never see one"


def test_the_child_dies_with_the_kernel():
    script = textwrap.dedent("""
        from kimi_lab.tools.sandbox import run_isolated
        def spin():
            while True:
                pass
        run_isolated(spin, timeout=120, memory_bytes=1 << 28)
    """)
    kernel = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[1])
    grandchild = None
    try:
        found = wait_for(lambda: children(kernel.pid), 60)
        assert found, "the sandboxed child started"
        grandchild = found[0]
        kernel.kill()
        kernel.wait(10)
        assert wait_for(lambda: state(grandchild) in (None, "Z"), 5), "the orphaned child was killed"
    finally:
        kernel.kill()
        kernel.wait(10)
        if grandchild is not None and state(grandchild) not in (None, "Z"):
            os.kill(grandchild, signal.SIGKILL)


# --- files ---------------------------------------------------------------------------------------------


def file_actions(canary: Path) -> dict[str, Callable[[], object]]:
    folder = canary.parent

    def append() -> None:
        with open(canary, "a") as f:
            f.write("pwned")

    return {
        "write": lambda: open(canary, "w").write("pwned"),
        "append": append,
        "truncate": lambda: os.truncate(canary, 0),
        "unlink": lambda: os.unlink(canary),
        "rename": lambda: os.rename(canary, folder / "moved"),
        "create": lambda: open(folder / "new", "x"),
        "mkdir": lambda: os.mkdir(folder / "sub"),
        "symlink": lambda: os.symlink(canary, folder / "link"),
        "tmpfile": lambda: os.open(folder, os.O_TMPFILE | os.O_WRONLY),
        "chmod": lambda: os.chmod(canary, 0o777),
        "utime": lambda: os.utime(canary, (0, 0)),
        "read": lambda: open(canary).read(),
    }


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "canary.txt"
    path.write_text("original")
    path.chmod(0o640)
    before = (path.read_text(), path.stat().st_mode, path.stat().st_mtime_ns)
    yield path
    assert sorted(os.listdir(tmp_path)) == ["canary.txt"], "nothing created, moved or deleted"
    assert (path.read_text(), path.stat().st_mode, path.stat().st_mtime_ns) == before, "the canary is unchanged"


def test_the_sandbox_cannot_change_or_read_the_users_files(canary):
    actions = file_actions(canary)
    actions["etc_passwd"] = lambda: open("/etc/passwd").read()
    actions["home"] = lambda: os.listdir(os.path.expanduser("~"))
    report = run(attempts(**actions))
    failed(report, *(name for name in actions if name not in ("read", "etc_passwd", "home")))
    if not PROTECTIONS["landlock"]:
        pytest.skip("reading files is only refused under Landlock, which this kernel lacks")
    failed(report, "read", "etc_passwd", "home")


def test_the_sandbox_still_reads_pythons_own_installation():
    lazy = "tabnanny" if "tabnanny" not in sys.modules else "mailcap"

    def fn() -> str:
        __import__(lazy)  # a module the kernel never imported: read from the installation now
        with open(os.__file__) as f:
            return f.read(40)

    with open(os.__file__) as f:
        assert run_isolated(fn, timeout=10, memory_bytes=256 * MB) == f.read(40)


@needs_seccomp
def test_seccomp_alone_refuses_every_write_and_metadata_change(canary):
    report = run(attempts(**file_actions(canary)), layers={"seccomp"})
    failed(report, "write", "append", "truncate", "unlink", "rename", "create", "mkdir", "symlink", "tmpfile",
           "chmod", "utime")


@needs_seccomp
def test_seccomp_alone_refuses_ioctls_and_aiming_sigio_at_the_kernel(canary):
    import fcntl
    import termios

    def setown() -> None:
        with open(canary) as f:
            fcntl.fcntl(f.fileno(), fcntl.F_SETOWN, os.getppid())

    def ioctl() -> None:
        with open(canary) as f:
            fcntl.ioctl(f.fileno(), termios.FIONREAD, bytearray(4))

    failed(run(attempts(setown=setown, ioctl=ioctl), layers={"seccomp"}), "setown", "ioctl")


@needs_landlock
def test_landlock_alone_refuses_writes_and_reads_outside_python(canary):
    actions = file_actions(canary)
    del actions["chmod"], actions["utime"]  # metadata changes are not covered by Landlock (seccomp refuses them)
    actions["etc_passwd"] = lambda: open("/etc/passwd").read()
    actions["python"] = lambda: open(os.__file__).read(3)
    report = run(attempts(**actions), layers={"landlock"})
    failed(report, *(name for name in actions if name != "python"))
    assert json.loads(report)["python"] == "ok"


def test_the_file_size_limit_alone_refuses_growing_a_file(canary, monkeypatch):
    def append() -> None:
        with open(canary, "a") as f:
            f.write("pwned")

    # Python ignores SIGXFSZ at startup, a host embedding it may not: the child must ignore it itself
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    try:
        report = json.loads(run(attempts(append=append), layers={"rlimits"}))
    finally:
        signal.signal(signal.SIGXFSZ, previous)
    assert report["append"].startswith("OSError") and "File too large" in report["append"]


def test_a_crash_writes_no_core_dump(tmp_path, monkeypatch):
    import resource

    monkeypatch.chdir(tmp_path)
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))  # as a user with core dumps on would have it
    try:
        with pytest.raises(SandboxCrashed, match="SIGSEGV"):
            import ctypes

            run(lambda: str(ctypes.string_at(8, 8)), layers={"rlimits"})  # a read at address 8
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))
    assert os.listdir(tmp_path) == [], "no core file"


# --- network -------------------------------------------------------------------------------------------


@pytest.fixture
def listeners(tmp_path: Path) -> Iterator[dict[str, object]]:
    tcp = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    path = str(tmp_path / "unix.sock")
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(path)
    unix.listen()
    yield {"tcp": tcp.getsockname(), "udp": udp.getsockname(), "unix": path}
    ready, _, _ = select.select([tcp, udp, unix], [], [], 0.2)
    for s in (tcp, udp, unix):
        s.close()
    assert ready == [], "nothing reached the test's listeners"


def network_actions(where: dict[str, object]) -> dict[str, Callable[[], object]]:
    def unix() -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(where["unix"])

    return {
        "tcp": lambda: socket.create_connection(where["tcp"], timeout=2),
        "bind": lambda: socket.create_server(("127.0.0.1", 0)),
        "udp": lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", where["udp"]),
        "unix": unix,
    }


def test_the_sandbox_opens_no_connection(listeners):
    report = run(attempts(**network_actions(listeners)))
    failed(report, "tcp", "bind", "udp", "unix")


@needs_seccomp
def test_seccomp_alone_refuses_sockets(listeners):
    failed(run(attempts(**network_actions(listeners)), layers={"seccomp"}), "tcp", "bind", "udp", "unix")


@needs_landlock_net
def test_landlock_alone_refuses_tcp(listeners):
    actions = network_actions(listeners)
    report = run(attempts(tcp=actions["tcp"], bind=actions["bind"]), layers={"landlock"})
    failed(report, "tcp", "bind")


# --- processes and signals ---------------------------------------------------------------------------


@pytest.fixture
def sigterm() -> Iterator[list[int]]:
    got: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: got.append(signum))
    yield got
    signal.signal(signal.SIGTERM, previous)
    assert got == [], "the kernel was signalled"


def process_actions(marker: Path) -> dict[str, Callable[[], object]]:
    def system() -> None:
        status = os.system(f"touch {marker}")
        if status:
            raise OSError(f"status {status}")

    def fork() -> None:
        pid = os.fork()  # only the fork is the attempt: waitpid (also refused) must not hide its success
        if pid == 0:
            os._exit(0)
        try:
            os.waitpid(pid, 0)
        except OSError:
            pass

    return {
        "system": system,
        "subprocess": lambda: subprocess.run(["/bin/sh", "-c", f"touch {marker}"], check=True, timeout=5),
        "fork": fork,
        "kill_kernel": lambda: os.kill(os.getppid(), signal.SIGTERM),
    }


def test_the_sandbox_starts_no_process_and_signals_no_one(tmp_path, sigterm):
    marker = tmp_path / "ran"
    failed(run(attempts(**process_actions(marker))), "system", "subprocess", "fork", "kill_kernel")
    assert not marker.exists()


@needs_seccomp
def test_seccomp_alone_refuses_fork_exec_and_kill(tmp_path, sigterm):
    marker = tmp_path / "ran"
    failed(run(attempts(**process_actions(marker)), layers={"seccomp"}), "system", "subprocess", "fork",
           "kill_kernel")
    assert not marker.exists()


@needs_landlock_scopes
def test_landlock_alone_refuses_exec_and_signalling_the_kernel(tmp_path, sigterm):
    marker = tmp_path / "ran"
    actions = process_actions(marker)
    del actions["fork"]  # Landlock does not stop fork (seccomp does)
    failed(run(attempts(**actions), layers={"landlock"}), "system", "subprocess", "kill_kernel")
    assert not marker.exists()


def test_threads_still_work_in_the_child():
    def fn() -> str:
        out: list[int] = []
        t = threading.Thread(target=lambda: out.append(42))
        t.start()
        t.join(5)
        return str(out)

    assert run_isolated(fn, timeout=10, memory_bytes=256 * MB) == "[42]"


# --- the kernel's descriptors, streams and environment -------------------------------------------------


def test_the_child_cannot_write_to_the_kernels_descriptors_or_streams(capfd):
    r, w = os.pipe()
    try:
        def fn() -> str:
            print("LEAK via print")
            sys.__stdout__.write("LEAK via __stdout__\n")
            sys.__stdout__.flush()
            results = []
            for fd, data in ((w, b"LEAK"), (1, b"LEAK fd 1\n"), (2, b"LEAK fd 2\n")):
                try:
                    os.write(fd, data)
                    results.append("written")
                except OSError as exc:
                    results.append(errno.errorcode[exc.errno])
            return " ".join(results)

        assert run_isolated(fn, timeout=10, memory_bytes=256 * MB).startswith("EBADF")
        readable, _, _ = select.select([r], [], [], 0.1)
        assert readable == [], "nothing arrived on the kernel's pipe"
    finally:
        os.close(r)
        os.close(w)
    out = capfd.readouterr()
    assert "LEAK" not in out.out + out.err


def test_the_child_does_not_see_the_kernels_secrets_in_its_environment(monkeypatch):
    monkeypatch.setenv("KIMI_LAB_CANARY_API_KEY", "sk-canary-in-the-environment")
    monkeypatch.setenv("TZ", "UTC")
    text = run_isolated(lambda: json.dumps([os.environ.get("KIMI_LAB_CANARY_API_KEY"), os.environ.get("TZ")]),
                        timeout=10, memory_bytes=256 * MB)
    assert json.loads(text) == [None, "UTC"]
    assert os.environ["KIMI_LAB_CANARY_API_KEY"] == "sk-canary-in-the-environment", "the kernel keeps its own"


# --- exceptions and the reply --------------------------------------------------------------------------


class Custom(Exception):
    pass


def raising(exc: BaseException) -> Callable[[], str]:
    def fn() -> str:
        raise exc

    return fn


@pytest.mark.parametrize("exc", [
    KeyError("missing"), TypeError("bad type"), ValueError("bad value"), AttributeError("no attr"),
    IndexError("out of range"), NameError("no name"), OverflowError("too big"),
], ids=lambda e: type(e).__name__)
def test_common_builtin_exceptions_keep_their_type_and_message(exc):
    with pytest.raises(type(exc)) as caught:
        run_isolated(raising(exc), timeout=10, memory_bytes=256 * MB)
    assert type(caught.value) is type(exc) and str(caught.value) == str(exc)


def test_a_real_error_from_the_computation_keeps_its_type():
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        run_isolated(lambda: str(1 / 0), timeout=10, memory_bytes=256 * MB)
    df = pd.DataFrame({"a": [1]})
    with pytest.raises(KeyError) as caught:
        run_isolated(lambda: str(df["nope"]), timeout=10, memory_bytes=256 * MB)
    assert str(caught.value) == "'nope'"


def test_other_exceptions_become_child_error_with_the_type_name():
    with pytest.raises(ChildError, match=r"^custom message$") as caught:
        run_isolated(raising(Custom("custom message")), timeout=10, memory_bytes=256 * MB)
    assert caught.value.type_name == "Custom" and caught.value.module == __name__
    with pytest.raises(ChildError) as caught:
        run_isolated(raising(SystemExit(3)), timeout=10, memory_bytes=256 * MB)
    assert caught.value.type_name == "SystemExit"


def test_memory_error_becomes_sandbox_memory():
    with pytest.raises(SandboxMemory, match="more than 256 MiB"):
        run_isolated(raising(MemoryError()), timeout=10, memory_bytes=256 * MB)


def test_unsafe_expression_keeps_its_type_through_the_evaluator():
    from kimi_lab.tools.safe_eval import UnsafeExpression, evaluate_text

    df = pd.DataFrame({"units": [1, 2, 3]})
    assert run_isolated(lambda: evaluate_text("df.units.sum()", {"df": df}), timeout=10,
                        memory_bytes=256 * MB).endswith("6")
    with pytest.raises(UnsafeExpression, match=r"not allowed|neither") as caught:
        run_isolated(lambda: evaluate_text("__import__('os')", {"df": df}), timeout=10, memory_bytes=256 * MB)
    assert type(caught.value) is UnsafeExpression
    with pytest.raises(UnsafeExpression, match=r"^one sentence$"):
        run_isolated(raising(UnsafeExpression("one sentence")), timeout=10, memory_bytes=256 * MB)


def test_fn_must_return_text():
    with pytest.raises(TypeError, match="returned int"):
        run_isolated(lambda: 42, timeout=10, memory_bytes=256 * MB)  # type: ignore[arg-type,return-value]


def test_a_100_mb_result_is_refused_unread():
    before = rss()
    with pytest.raises(SandboxError, match="larger than 4 MiB"):
        run_isolated(lambda: "x" * (100 * MB), timeout=20, memory_bytes=1024 * MB)
    assert rss() - before < 32 * MB


def result_pipe() -> int:
    # In the child after lock-down the only descriptor above 2 is the result pipe, moved to 3 (a kernel with
    # many descriptors open gave it a number above 63, which the test once missed).
    assert _is_fifo(3)
    return 3


def _is_fifo(fd: int) -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(fd).st_mode)
    except OSError:
        return False


def test_a_compromised_child_cannot_flood_the_kernel():
    def flood() -> str:
        pipe, block = result_pipe(), b"x" * MB
        for _ in range(100):
            os.write(pipe, block)
        os._exit(0)

    before = rss()
    with pytest.raises(SandboxError, match="larger than 4 MiB"):
        run_isolated(flood, timeout=20, memory_bytes=512 * MB)
    assert rss() - before < 32 * MB


@pytest.mark.parametrize("junk", [b"\x80\x04\x95 not json", b"[" * 100_000, b'{"ok": true, "text": 5}'],
                         ids=["pickle-like", "deeply-nested", "wrong-shape"])
def test_a_malformed_reply_is_a_crash_not_an_object(junk):
    def send() -> str:
        os.write(result_pipe(), junk)
        os._exit(0)

    with pytest.raises(SandboxCrashed, match="malformed"):
        run_isolated(send, timeout=10, memory_bytes=256 * MB)


def test_closing_the_reply_without_a_result_is_a_crash():
    def close_and_spin() -> str:
        os.close(result_pipe())
        return spin()

    start = time.monotonic()
    with pytest.raises(SandboxCrashed):
        run_isolated(close_and_spin, timeout=10, memory_bytes=256 * MB)
    assert time.monotonic() - start < 5


def test_without_pidfd_the_deadline_and_the_reaping_still_hold(monkeypatch):
    monkeypatch.delattr(os, "pidfd_open")  # as on Linux < 5.3
    assert run_isolated(lambda: "ok", timeout=10, memory_bytes=256 * MB) == "ok"
    start = time.monotonic()
    with pytest.raises(SandboxTimeout):
        run_isolated(spin, timeout=1, memory_bytes=256 * MB)
    with pytest.raises(SandboxCrashed):
        run_isolated(lambda: (os.close(result_pipe()), spin())[1], timeout=10, memory_bytes=256 * MB)
    assert time.monotonic() - start < 8


def test_the_sandbox_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("KIMI_LAB_NO_SANDBOX", "1")
    assert not sandbox.available() and not protections()["fork"]
    with pytest.raises(SandboxError, match="not available"):
        run_isolated(lambda: "x", timeout=1, memory_bytes=MB)


# --- real work -----------------------------------------------------------------------------------------


def test_pandas_and_blas_work_in_the_sandbox():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"k": rng.integers(0, 50, 1_000_000), "v": rng.random(1_000_000),
                       "w": rng.integers(0, 100, 1_000_000)})
    a = rng.random((300, 300))
    expected = df.groupby("k").sum().to_string()
    assert run_isolated(lambda: df.groupby("k").sum().to_string(), timeout=30, memory_bytes=1024 * MB) == expected
    product = float(run_isolated(lambda: repr(float((a @ a).sum())), timeout=30, memory_bytes=512 * MB))
    assert math.isclose(product, float((a @ a).sum()), rel_tol=1e-12)


def test_blas_works_under_a_small_budget():
    # With its worker threads OpenBLAS would reserve 32 MB of address space per core and spin until the
    # deadline when it cannot; the child runs it single-threaded.
    a = np.random.default_rng(1).random((300, 300))
    got = float(run_isolated(lambda: repr(float((a @ a).sum())), timeout=10, memory_bytes=8 * MB))
    assert math.isclose(got, float((a @ a).sum()), rel_tol=1e-12)


def test_protections_on_this_machine():
    shown = protections()
    assert set(shown) == {"fork", "rlimits", "oom_score_adj", "landlock", "landlock_network", "landlock_scopes",
                          "seccomp"}
    assert all(isinstance(v, bool) for v in shown.values())
    assert shown["fork"] and shown["rlimits"]


def test_landlock_never_grants_the_notebooks_folder_or_home(tmp_path, monkeypatch):
    # as a kernel started in a project folder with odd prefixes would have it
    monkeypatch.setattr(sys, "prefix", "/")
    monkeypatch.setattr(sys, "exec_prefix", os.path.expanduser("~"))
    monkeypatch.setattr(sys, "path", ["", os.getcwd(), str(tmp_path), *sys.path])
    paths = _landlock.allowed_paths()
    for protected in (os.getcwd(), os.path.expanduser("~"), str(Path(__file__).parent), str(tmp_path)):
        real = os.path.realpath(protected)
        assert not any(real == p or real.startswith(p.rstrip("/") + "/") for p in paths), (protected, paths)
    assert "" not in paths and "/" not in paths
    assert os.path.realpath(sys.base_prefix) in paths or os.path.realpath(os.getcwd()).startswith(
        os.path.realpath(sys.base_prefix))


# --- the seccomp program, on both architectures (emulated) ---------------------------------------------


def emulate(program: list[tuple[int, int, int, int]], data: bytes) -> int:
    """A tiny classic-BPF interpreter for the instructions the filter uses."""
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = program[pc]
        if code == _seccomp.LD_W_ABS:
            acc = struct.unpack_from("<I", data, k)[0]
            pc += 1
        elif code == _seccomp.RET_K:
            return k
        else:
            hit = {_seccomp.JEQ_K: acc == k, _seccomp.JGE_K: acc >= k, _seccomp.JSET_K: bool(acc & k)}[code]
            pc += 1 + (jt if hit else jf)


def call(arch: str, name: str | int, *args: int, audit_arch: int | None = None) -> str:
    table_arch, numbers = _syscalls.TABLES[arch]
    nr = numbers[name] if isinstance(name, str) else name
    packed = struct.pack("<iIQ6Q", nr, table_arch if audit_arch is None else audit_arch, 0,
                         *(a & 0xFFFFFFFFFFFFFFFF for a in list(args) + [0] * (6 - len(args))))
    verdict = emulate(_seccomp.program(arch, 1234), packed)
    if verdict == _seccomp.RET_ALLOW:
        return "allow"
    return errno.errorcode[verdict & 0xFFFF] if verdict & 0xFFFF0000 == _seccomp.RET_ERRNO else hex(verdict)


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_the_seccomp_program_decides_as_documented(arch):
    numbers = _syscalls.TABLES[arch][1]
    o = os
    assert call(arch, "read", 3) == "allow"
    assert call(arch, "openat", -100, 0, o.O_RDONLY | o.O_CLOEXEC) == "allow"
    assert call(arch, "openat", -100, 0, o.O_RDONLY | o.O_DIRECTORY | o.O_CLOEXEC) == "allow"
    for flags in (o.O_WRONLY, o.O_RDWR, o.O_RDONLY | o.O_CREAT, o.O_RDONLY | o.O_TRUNC, o.O_APPEND,
                  o.O_TMPFILE | o.O_WRONLY):
        assert call(arch, "openat", -100, 0, flags) == "EPERM", flags
    assert call(arch, "clone", 0x3D0F00) == "allow"  # glibc's pthread_create flags, with CLONE_THREAD
    assert call(arch, "clone", 0x01200011) == "EPERM"  # fork(): SIGCHLD | CLONE_CHILD_*
    assert call(arch, "clone3", 0) == "ENOSYS"
    assert call(arch, "kill", 1234, 15) == "allow" and call(arch, "kill", 1, 15) == "EPERM"
    assert call(arch, "tgkill", 1234, 1235, 6) == "allow" and call(arch, "tgkill", 99, 99, 9) == "EPERM"
    assert call(arch, "prlimit64", 0, 9, 0, 0x7FFF0000) == "allow"
    assert call(arch, "prlimit64", 0, 9, 0x7FFF0000, 0) == "EPERM"
    assert call(arch, "prlimit64", 0, 9, 1 << 40, 0) == "EPERM", "a pointer's high half counts too"
    assert call(arch, "ioctl", 0, 0x5401) == "allow" and call(arch, "ioctl", 0, 0x40086602) == "EPERM"
    assert call(arch, "fcntl", 3, 1) == "allow" and call(arch, "fcntl", 3, 8) == "EPERM"  # F_SETOWN
    assert call(arch, "prctl", 22, 2) == "EPERM"  # no new filter, no PR_SET_* beyond the name
    assert call(arch, "read", 3, audit_arch=0x40000003) == "EPERM"  # i386 via int 0x80
    for unknown in (41, 42, 59, 101, 310, 425) if arch == "x86_64" else (198, 203, 221, 117, 270, 425):
        # socket, connect, execve, ptrace, process_vm_readv, io_uring_setup
        assert call(arch, unknown) == "EPERM", unknown
    assert set(_seccomp.ALLOWED) - set(numbers) <= {"stat", "lstat", "access", "getdents", "readlink", "dup2",
                                                    "poll", "select", "time", "getpgrp", "alarm", "pause"}
    if arch == "x86_64":
        assert call(arch, 0x40000000 | 0) == "EPERM", "x32 numbers are refused"
        assert call(arch, "open", 0, o.O_WRONLY) == "EPERM" and call(arch, "open", 0, 0) == "allow"
        assert call(arch, 57) == "EPERM" and call(arch, 58) == "EPERM"  # fork, vfork


def test_the_child_keeps_only_its_reply_pipe_at_3_however_many_descriptors_the_kernel_has():
    """A long-running kernel holds many descriptors; the reply pipe used to keep its number (above 63 in a
    full test run), now it is always 3 and nothing else survives."""
    held = [socket.socket() for _ in range(80)]
    try:
        def open_descriptors() -> str:
            return json.dumps([fd for fd in range(256) if _is_open(fd)])

        assert json.loads(run_isolated(open_descriptors, timeout=10, memory_bytes=256 * MB)) == [0, 1, 2, 3]
    finally:
        for sock in held:
            sock.close()


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
