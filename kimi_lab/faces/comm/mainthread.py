"""Run a callable on the kernel's main thread between cell executions, from any thread.

Why: the sidebar's model call runs in a worker thread so the kernel stays usable, but tools
read and change the user's namespace. Run from the worker they would race the user's cells
(a half-built DataFrame, a dict changing size during iteration). Run on the main thread while
no shell message is being handled, they are ordered with cells like one more cell.

How (ipykernel 7): the main thread runs tornado's IOLoop on asyncio (`kernel.io_loop`), and
the kernel handles each main-shell message (an `execute_request` included, an async cell
through all its `await`s) while holding `kernel._main_asyncio_lock`. `submit` hands a
coroutine to that loop with `io_loop.add_callback` (thread-safe; the caller's contextvars,
hence the output parent, go along); the coroutine takes the same lock and then calls the
function synchronously, so it runs after the running cell's reply and before the next queued
cell, and no other main-shell message is handled while it runs.
ipykernel 6 has no such lock: the callback runs when the loop is free, which is between
ordinary (synchronous) cells but may fall in an `await` of an async cell.
Outside a kernel (plain IPython, scripts) or on the main thread itself, the function is
called directly: there is no loop to wait for, and waiting on ourselves would deadlock.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable, Generic, TypeVar

__all__ = ["MainCall", "MainThreadBusy", "run_on_main", "submit"]

T = TypeVar("T")


class MainThreadBusy(TimeoutError):
    """The main thread stayed busy (a cell kept running) longer than the caller would wait."""


class MainCall(Generic[T]):
    """One scheduled call: pending until the main thread takes it, or cancelled before that."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._fn = fn
        self._lock = threading.Lock()
        self._state = "pending"  # -> "running" -> "done", or -> "cancelled"
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        with self._lock:
            if self._state != "pending":
                return
            self._state = "running"
        try:
            self._value = self._fn()
        except BaseException as exc:  # handed to the waiting thread (KeyboardInterrupt included)
            self._error = exc
        finally:
            self._state = "done"
            self._done.set()

    def cancel(self) -> bool:
        """Drop the call if it has not started; True if it will never run."""
        with self._lock:
            if self._state == "pending":
                self._state = "cancelled"
                self._done.set()
            return self._state == "cancelled"

    def result(self, timeout: float | None = None) -> T:
        """Wait up to `timeout` seconds for the call to start (raise MainThreadBusy and drop it
        if it has not), then for it to end: once on the main thread it cannot be abandoned, so
        the callable must bound its own run time."""
        if not self._done.wait(timeout) and self.cancel():
            raise MainThreadBusy(f"the kernel stayed busy for {timeout:g} s (a cell was running); not run")
        self._done.wait()
        if self._state == "cancelled":
            raise MainThreadBusy("cancelled before the kernel was free; not run")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[no-any-return]


def _kernel() -> Any:
    """The running ipykernel kernel, or None (imports nothing when ipykernel is not loaded)."""
    kernelbase = sys.modules.get("ipykernel.kernelbase")
    if kernelbase is None or not kernelbase.Kernel.initialized():
        return None
    kernel = kernelbase.Kernel.instance()
    return kernel if getattr(kernel, "io_loop", None) is not None else None


async def _when_free(call: MainCall[Any], lock: Any) -> None:
    if lock is None:
        call._run()
        return
    async with lock:
        call._run()


def submit(fn: Callable[[], T]) -> MainCall[T]:
    """Schedule `fn` on the kernel's main thread when no cell runs; see the module docstring."""
    call = MainCall(fn)
    kernel = _kernel()
    if kernel is None or threading.current_thread() is threading.main_thread():
        call._run()
    else:
        kernel.io_loop.add_callback(_when_free, call, getattr(kernel, "_main_asyncio_lock", None))
    return call


def run_on_main(fn: Callable[[], T], timeout: float | None = None) -> T:
    """`fn()` on the kernel's main thread between cells; MainThreadBusy if it could not start
    within `timeout` seconds (it is then never run)."""
    return submit(fn).result(timeout)
