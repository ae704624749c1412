"""A real `jupyter lab` on 127.0.0.1 with the kimi-lab sidebar, a scripted loopback model
server, and headless Chromium through Playwright. Shared by tests_browser/,
benchmarks/bench_sidebar.py and scripts/screenshots.py.

The sidebar must be visible to that JupyterLab, and it is this checkout's build: the prebuilt
extension in kimi_lab/labextension/ (what `npm run build` in labextension/ writes) is put first on
the extension path through `--LabServerApp.extra_labextensions_path` (a temp folder holding a
`kimi-lab` symlink to it), so it wins over a copy installed in the environment. (`pip install -e .`
copies the build into <venv>/share/jupyter/labextensions/kimi-lab once; that copy is stale after
the next npm build.) Without a build in the checkout, an installed extension is used as is, and
with neither, it is built with npm.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat

from kimi_lab.testing import LoopbackServer

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("KIMI_LAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
PREBUILT = ROOT / "kimi_lab" / "labextension"
BIN = Path(sys.executable).parent


class LabError(RuntimeError):
    """The test JupyterLab could not be set up."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def extension_installed() -> bool:
    """Whether this environment's JupyterLab already lists the kimi-lab extension."""
    out = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], capture_output=True, text=True,
                         timeout=60, env=_clean_env())
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    return re.search(r"^\s*kimi-lab\s+v", text, re.M) is not None


def build_extension() -> None:
    """`npm ci` (when node_modules is missing) and `npm run build:prod` in labextension/."""
    npm = shutil.which("npm")
    if npm is None:
        raise LabError("kimi_lab/labextension/package.json is missing and npm is not on PATH to build it "
                       "(cd labextension && npm ci && npm run build:prod)")
    cwd, env = ROOT / "labextension", _clean_env()
    if not (cwd / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=cwd, env=env, check=True, timeout=900)
    subprocess.run([npm, "run", "build:prod"], cwd=cwd, env=env, check=True, timeout=900)
    if not (PREBUILT / "package.json").is_file():
        raise LabError(f"npm run build:prod did not write {PREBUILT / 'package.json'}")


def lab_extension_args(tmp: Path) -> list[str]:
    """Extra `jupyter lab` arguments that load this checkout's sidebar build (see the module doc)."""
    if not (PREBUILT / "package.json").is_file():
        if extension_installed():
            return []
        build_extension()
    extra = tmp / "labextensions"
    extra.mkdir(parents=True, exist_ok=True)
    link = extra / "kimi-lab"
    if not link.exists():
        link.symlink_to(PREBUILT, target_is_directory=True)
    return [f"--LabServerApp.extra_labextensions_path={extra}"]


def write_notebook(path: Path, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, str(path))


@dataclass
class Lab:
    url: str  # base, with trailing slash
    token: str
    root: Path
    log_path: Path
    server: LoopbackServer
    proc: subprocess.Popen[bytes]

    def notebook_url(self, name: str) -> str:
        return f"{self.url}lab/tree/{name}?token={self.token}"

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def _wait_for_lab(url: str, proc: subprocess.Popen[bytes], log_path: Path, deadline_s: float = 60.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(f"jupyter lab exited early with code {proc.returncode}:\n"
                           f"{log_path.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        try:  # paces the poll, and returns at once if jupyter lab dies
            proc.wait(timeout=0.25)
        except subprocess.TimeoutExpired:
            pass
    raise LabError(f"jupyter lab did not answer {url} within {deadline_s:.0f} s")


@contextmanager
def running_lab(tmp: Path, notebooks: dict[str, list[str]], sidebar: bool = True,
                keyless: bool = False) -> Iterator[Lab]:
    """Loopback model server + `jupyter lab` on 127.0.0.1, isolated settings, given notebooks.

    `sidebar=False` skips making the kimi-lab extension available (no npm build when it is not
    installed): for pages that only need `%%kimi` cells. `keyless=True`: the kernels see no provider
    key and no base URL at all, as on a new user's machine (the loopback server still runs, unused).
    """
    if not Path(CHROMIUM).exists():
        raise LabError(f"{CHROMIUM} not found: apt-get install -y chromium fonts-noto-color-emoji")
    root, log_path = tmp / "root", tmp / "lab.log"
    root.mkdir(parents=True, exist_ok=True)
    notify = tmp / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notify.parent.mkdir(parents=True, exist_ok=True)
    notify.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    for name, cells in notebooks.items():
        write_notebook(root / name, cells)
    ext_args = lab_extension_args(tmp) if sidebar else []
    server = LoopbackServer(api_key="sk-loopback-" + secrets.token_hex(8))
    server.start()
    token, port = secrets.token_hex(16), free_port()
    env = {**_clean_env(), "KIMI_LAB_BASE_URL": server.base_url, "KIMI_LAB_API_KEY": server.api_key or "",
           "KIMI_LAB_PROVIDER": "moonshot",  # Moonshot list prices: the footer shows a real $ cost
           "KIMI_LAB_TRANSCRIPTS": str(tmp / "transcripts.sqlite"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    if keyless:
        from kimi_lab.settings.providers import PRESETS

        for name in {p.key_env for p in PRESETS.values() if p.key_env} | {
                "KIMI_LAB_BASE_URL", "KIMI_LAB_API_KEY", "KIMI_LAB_PROVIDER", "KIMI_LAB_MODEL"}:
            env.pop(name, None)
    root_flag = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", *ext_args, *root_flag],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_lab(f"http://127.0.0.1:{port}/api/status?token={token}", proc, log_path)
        yield Lab(f"http://127.0.0.1:{port}/", token, root, log_path, server, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        server.stop()
