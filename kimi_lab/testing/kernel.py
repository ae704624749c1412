"""A real Jupyter kernel for tests and benchmarks: run code, collect what a frontend receives (needs jupyter_client)."""

from __future__ import annotations

import os
import queue
import time
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.manager import KernelManager

__all__ = ["Execution", "Kernel"]


@dataclass
class Execution:
    msg_id: str
    reply: dict[str, Any] | None = None
    iopub: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [m for m in self.iopub if m["msg_type"] in types]

    def stdout(self) -> str:
        """What the cell printed, as one text (the kernel may split one print over several messages)."""
        return "".join(str(m["content"].get("text", "")) for m in self.iopub if m["msg_type"] == "stream")

    def text(self) -> str:
        parts = []
        for m in self.iopub:
            c = m["content"]
            parts.append(str(c.get("text", "")))
            parts.extend(str(v) for v in (c.get("data") or {}).values())
            parts.extend(c.get("traceback") or [])
        return "\n".join(parts)


class Kernel:
    def __init__(self, env: dict[str, str]) -> None:
        self.km = KernelManager(kernel_name="python3")
        full_env = {**os.environ, **env}
        self.km.start_kernel(env=full_env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def submit(self, code: str) -> Execution:
        return Execution(self.kc.execute(code, allow_stdin=False))

    def collect(self, ex: Execution, timeout: float = 30, until=None) -> Execution:
        """Read iopub until the cell is idle (or `until(msg)` is true), within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if msg["parent_header"].get("msg_id") != ex.msg_id:
                continue
            msg["received"] = time.monotonic()  # when a frontend would have it
            ex.iopub.append(msg)
            if until is not None and until(msg):
                return ex
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        else:
            raise TimeoutError(f"cell did not finish within {timeout} s")
        # The reply to this cell, not an earlier message still queued on the shell channel (wait_for_ready may
        # leave a second kernel_info reply there): matched by its parent's id, within the same deadline.
        while True:
            reply = self.kc.get_shell_msg(timeout=max(1.0, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == ex.msg_id:
                ex.reply = reply
                return ex

    def run(self, code: str, timeout: float = 30) -> Execution:
        return self.collect(self.submit(code), timeout)

    def shutdown(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
