"""run_isolated inside a real ipykernel, whose IOPub, heartbeat, control and shell threads are running.

After fork only the calling thread exists in the child, and locks the others held stay locked: these tests
fork while the IOPub thread is busy, from the main thread and from a worker thread, interrupt a wait the
way Jupyter does, and check that the kernel still runs and prints normally and keeps no child processes.
"""

from __future__ import annotations

import re
from typing import Iterator

import pytest

from kimi_lab.testing.kernel import Execution, Kernel
from kimi_lab.tools.sandbox import available

from .test_sandbox import children, wait_for

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(not available(), reason="the sandbox needs Linux and os.fork")]

SETUP = """
import os, threading
import numpy as np
from kimi_lab.tools.sandbox import run_isolated

data = np.arange(1000.0)

def leaky(i):
    def fn():
        print('CHILD-LEAK print')
        os.write(1, b'CHILD-LEAK fd 1\\n')
        os.write(2, b'CHILD-LEAK fd 2\\n')
        return str(data.sum() + i)
    return fn

def spin():
    while True:
        pass

print('pid', os.getpid())
"""


@pytest.fixture(scope="module")
def kernel() -> Iterator[tuple[Kernel, int]]:
    k = Kernel({})
    try:
        ex = k.run(SETUP)
        assert error(ex) is None, ex.text()
        pid = int(re.search(r"pid (\d+)", ex.text()).group(1))
        yield k, pid
    finally:
        k.shutdown()


def error(ex: Execution) -> str | None:
    """The cell's exception name, from IOPub (the shell reply queue can hold a stale kernel_info reply)."""
    errors = ex.of_type("error")
    return errors[0]["content"]["ename"] if errors else None


def no_children(pid: int) -> None:
    assert wait_for(lambda: not children(pid), 5), f"the kernel kept children: {children(pid)}"


def test_fifty_calls_from_a_cell_all_return_and_nothing_leaks_into_the_output(kernel):
    k, pid = kernel
    ex = k.run(
        "out = [run_isolated(leaky(i), timeout=10, memory_bytes=1 << 28) for i in range(50)]\n"
        "print('calls', len(out), out[0], out[-1])",
        timeout=120,
    )
    assert error(ex) is None, ex.text()
    assert "calls 50 499500.0 499549.0" in ex.text()
    assert "CHILD-LEAK" not in ex.text()
    no_children(pid)


def test_calls_while_the_iopub_thread_is_busy_printing_and_from_a_worker_thread(kernel):
    k, pid = kernel
    ex = k.run(
        "stop = threading.Event()\n"
        "def chatter():\n"
        "    n = 0\n"
        "    while not stop.is_set():\n"
        "        print('tick', n)\n"
        "        n += 1\n"
        "t = threading.Thread(target=chatter, daemon=True)\n"
        "t.start()\n"
        "try:\n"
        "    main = [run_isolated(leaky(i), timeout=10, memory_bytes=1 << 28) for i in range(10)]\n"
        "    worker = []\n"
        "    w = threading.Thread(target=lambda: worker.extend(\n"
        "        run_isolated(leaky(i), timeout=10, memory_bytes=1 << 28) for i in range(5)))\n"
        "    w.start()\n"
        "    w.join(60)\n"
        "finally:\n"
        "    stop.set()\n"
        "    t.join(10)\n"
        "print('main', len(main), main[-1], 'worker', len(worker), worker[-1])",
        timeout=120,
    )
    assert error(ex) is None, ex.text()
    # stdout(): a print the busy IOPub thread split over several stream messages is joined as printed
    assert "main 10 499509.0 worker 5 499504.0" in ex.stdout()
    assert "tick 0" in ex.stdout() and "CHILD-LEAK" not in ex.text()
    no_children(pid)
    after = k.run("print('after', 6 * 7)")
    assert error(after) is None and "after 42" in after.stdout()


def test_a_jupyter_interrupt_during_the_wait_kills_the_child_and_the_kernel_goes_on(kernel):
    k, pid = kernel
    ex = k.submit("run_isolated(spin, timeout=60, memory_bytes=1 << 28)")
    assert wait_for(lambda: children(pid), 30), "the sandboxed child started"
    k.km.interrupt_kernel()
    k.collect(ex, timeout=30)
    assert error(ex) == "KeyboardInterrupt", ex.text()
    no_children(pid)
    after = k.run("print('still here', run_isolated(lambda: 'ok', timeout=10, memory_bytes=1 << 28))")
    assert error(after) is None and "still here ok" in after.text()
    no_children(pid)
