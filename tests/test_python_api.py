"""kimi_lab.ask from plain Python (no IPython), and secrets kept out of every surface."""

from __future__ import annotations

import os
import subprocess
import sys

from kimi_lab.core.session import session
from kimi_lab.testing import Reply

from .conftest import CANARY_KEY


def test_ask_outside_ipython(server, clean_env):
    code = (
        "import sys, kimi_lab\n"
        "r = kimi_lab.ask('hello there', show=True)\n"
        "print('\\nRESULT', type(r).__name__, r.content, r.provider, 'IPython' in sys.modules and "
        "__import__('IPython').get_ipython() is not None)\n"
    )
    env = {**os.environ, "KIMI_LAB_BASE_URL": server.base_url, "KIMI_LAB_API_KEY": CANARY_KEY}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "RESULT Result Echo: hello there custom False" in out.stdout
    assert "The user wrote: hello there" in out.stdout, "show=True streams the reasoning in a script"
    assert CANARY_KEY not in out.stdout + out.stderr


def test_ask_errors_raise_with_partial(server, clean_env):
    code = (
        "import kimi_lab\n"
        "try:\n"
        "    kimi_lab.ask('hi')\n"
        "except kimi_lab.KimiError as e:\n"
        "    print('ERR', type(e).__name__, e.partial is not None, e)\n"
    )
    env = {**os.environ, "KIMI_LAB_BASE_URL": server.base_url, "KIMI_LAB_API_KEY": "sk-wrong-0123456789"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert "ERR KimiAPIError True" in out.stdout and "401" in out.stdout
    assert "sk-wrong-0123456789" not in out.stdout


def test_key_appears_nowhere_but_the_auth_header(kimi):
    kimi.server.script(Reply(reasoning=f"the user pasted {CANARY_KEY}", content=f"never echo {CANARY_KEY}"))
    cell = kimi.run(f"%kimi --out r is {CANARY_KEY} a key?")
    result = kimi.shell.user_ns["r"]
    surfaces = [
        cell.text(), repr(result), str(result), str(result._repr_mimebundle_()),
        str(kimi.run("%kimi history").text()), str(kimi.run("%kimi config").text()),
        repr(session().conversations.get().messages),
    ]
    for request in kimi.server.chat_requests:
        surfaces.append(str(request.body))
    leaked = [s[:80] for s in surfaces if CANARY_KEY in s]
    assert not leaked


def test_ask_scrubs_what_the_given_namespace_holds(kimi):
    import json

    import kimi_lab

    secret = "zq-python-api-key-11223344"
    kimi.server.script(Reply(content=f"echo {secret[::-1]}"))
    r = kimi_lab.ask("summarise {settings_dict}", namespace={"settings_dict": {"token": secret, "n": 1}}, show=False)
    sent = json.dumps(kimi.server.chat_requests[-1].body)
    assert secret not in sent and "'n': 1" in sent
    assert r.content == "echo [redacted]"
