"""The sidebar's comm client (labextension/src/client.ts) against a real kernel: the vitest suite
labextension/test/kernel.e2e.test.ts, run with Node against this session's JupyterLab (its own
kernel, the loopback model server): load with %load_ext, hello, history, providers, a streamed
ask reduced into the view state and restored from history, a bad request, a kernel restart.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from ._lab import ROOT, Lab


def test_comm_client_against_a_real_kernel(lab: Lab) -> None:
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed to run the labextension's end-to-end tests"
    cwd = ROOT / "labextension"
    assert (cwd / "node_modules").is_dir(), "run `npm ci` in labextension/ first"
    env = {**os.environ, "KIMI_LAB_E2E_URL": lab.url.rstrip("/"), "KIMI_LAB_E2E_TOKEN": lab.token}
    run = subprocess.run([npm, "run", "test:e2e"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    out = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout + run.stderr)
    assert run.returncode == 0, out[-4000:]
    assert re.search(r"Tests\s+4 passed \(4\)", out), out[-2000:]
