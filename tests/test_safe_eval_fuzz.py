"""A fuzzer for evaluate: expressions built from the allowed grammar with adversarial arguments.

Receivers are the canary namespace's values (data, and the user's functions, lazy objects, generators,
modules and secrets), chained with allowed and refused attributes, methods from every kind's table,
subscripts and builtins; arguments come from a pool of values that have broken evaluators before
(callables smuggled in arrays and dicts, method-name strings, format strings that reach attributes,
huge widths and dtypes, catastrophic patterns, `inplace`/`copy=False`/`out`/`mode`). Every example
must leave every canary intact, leak no canary text, and stay within the time and memory caps.

CI runs a fixed, derandomised sample; `KIMI_LAB_FUZZ_EXAMPLES=20000 KIMI_LAB_FUZZ_RANDOM=1` runs a
longer random one (its counts are in docs/security.md).
"""

from __future__ import annotations

import os
import resource
import signal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kimi_lab.tools.safe_eval as se
from kimi_lab.tools.safe_eval._allowlists import ATTRIBUTES, METHODS, PARAMETER_RULES, REFUSED_METHODS

from .hostile_namespace import Canaries

EXAMPLES = int(os.environ.get("KIMI_LAB_FUZZ_EXAMPLES", "400"))
RANDOM = os.environ.get("KIMI_LAB_FUZZ_RANDOM") == "1"
SECONDS_PER_EXAMPLE = 10
MEMORY_CAP = 768 << 20  # bytes the process may grow over the whole run (the budget is 64 MB per example)

RECEIVERS = (
    "sales xs words d dd arr big text long_text dup cfg rec lazy gen counter configs callable_rec holder funcs "
    "user_func open reader print session np pd math statistics os mods fake_np settings In Out memmapped "
    "masked fileobj gb acc CANARY canary_env deep wide"
).split()
NAMES = sorted({n for table in METHODS.values() for n in table} | set(REFUSED_METHODS))
ATTRS = sorted({n for names in ATTRIBUTES.values() for n in names} | {"array", "base", "ctypes", "flat", "data",
                                                                       "style", "units", "region", "__class__"})
KEYWORDS = sorted(set(PARAMETER_RULES) | {"axis", "how", "on", "args", "key", "other", "columns", "index", "by"})
LITERALS = [
    "0", "1", "-1", "10**9", "2**63", "3.5", "None", "True", "False", "'w'", "'a'", "'to_csv'", "'sum'", "'pipe'",
    "'{0.__class__.__mro__}'", "'%.1000000f'", "'%*d'", "'U1000000'", "'U10'", "'(a+)+$'", "'(a|aa)*b'", "''",
    "'utf-32'", "'unicode_escape'", "'1ns'", "'cross'", "'table'", "CANARY", "canary_env", "'units'", "'region'",
    "[0] * 100", "list(range(3))", "{'a': 1}", "('units', 'sum')", "slice(None)", "...",
]
SMUGGLED = [
    "open", "user_func", "funcs[0]", "holder.fn", "reader", "print", "lazy", "rec", "gen", "counter",
    "pd.Series(filter(None, [open])).to_numpy()", "np.array([open], dtype=object)", "[open]", "{'a': open}",
    "map(open, [CANARY])", "(x for x in [open])", "lambda x: x", "lambda x: open(x)", "lambda *a, **k: a",
    "lambda x: 'x' * 10**9", "len", "str", "np.sqrt", "pd.DataFrame", "In", "cfg", "settings",
]


def _argument(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(LITERALS), st.sampled_from(SMUGGLED), inner)


def _call_arguments(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    positional = st.lists(_argument(inner), max_size=3)
    keywords = st.lists(st.tuples(st.sampled_from(KEYWORDS), _argument(inner)), max_size=2, unique_by=lambda kv: kv[0])
    return st.tuples(positional, keywords).map(
        lambda pk: ", ".join([*pk[0], *(f"{k}={v}" for k, v in pk[1])])
    )


def _step(inner: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(ATTRS).map(lambda a: f".{a}"),
        st.tuples(st.sampled_from(NAMES), _call_arguments(inner)).map(lambda t: f".{t[0]}({t[1]})"),
        _argument(inner).map(lambda a: f"[{a}]"),
    )


def _wrap(expression: str, how: str) -> str:
    return {
        "plain": expression,
        "str": f"str({expression})",
        "list": f"list({expression})",
        "sorted": f"sorted({expression})",
        "fstring": f'f"{{{expression}}}"',
        "percent": f"'%s' % ({expression},)",
        "join": f"', '.join({expression})",
        "comprehension": f"[y for y in {expression}]",
        "apply": f"sales.units.apply(lambda v: {expression})",
        "series": f"pd.Series({expression})",
        "array": f"np.array({expression})",
    }[how]


EXPRESSIONS = st.recursive(
    st.sampled_from(RECEIVERS),
    lambda inner: st.tuples(inner, st.lists(_step(inner), min_size=1, max_size=3)).map(
        lambda t: t[0] + "".join(t[1])
    ),
    max_leaves=6,
).flatmap(lambda e: st.sampled_from(
    ["plain", "str", "list", "sorted", "fstring", "percent", "join", "comprehension", "apply", "series", "array"]
).map(lambda how: _wrap(e, how)))


class _Slow(Exception):
    pass


@pytest.fixture(scope="module")
def fuzz_canaries(tmp_path_factory: pytest.TempPathFactory) -> Any:
    base = tmp_path_factory.mktemp("fuzz")
    work = base / "work"
    work.mkdir()
    old = os.getcwd()
    os.chdir(work)
    canaries = Canaries(base)
    os.environ[canaries.env_name] = canaries.env_value
    canaries.before = canaries._snapshot()
    yield canaries
    canaries.close()
    os.environ.pop(canaries.env_name, None)
    os.chdir(old)


def _expire(signum: int, frame: Any) -> None:
    raise _Slow


@settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(expression=EXPRESSIONS)
def test_no_expression_escapes(expression: str, fuzz_canaries: Canaries, monkeypatch_module: Any) -> None:
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, SECONDS_PER_EXAMPLE)
    try:
        shown = se.evaluate_text(expression, fuzz_canaries.ns)
    except _Slow:
        pytest.fail(f"took over {SECONDS_PER_EXAMPLE} s: {expression}")
    except Exception as exc:
        shown = f"{type(exc).__name__}: {exc}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert fuzz_canaries.intact() == [], expression
    assert fuzz_canaries.leaked(shown) == [], expression
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - start
    assert grown < MEMORY_CAP, (expression, grown)


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    patcher = pytest.MonkeyPatch()
    patcher.setattr(se, "MAX_BYTES", 64_000_000)
    patcher.setattr(se, "MAX_STEPS", 20_000)
    yield patcher
    patcher.undo()


@settings(max_examples=1, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_the_fuzzer_reaches_the_library(data: st.DataObject, fuzz_canaries: Canaries, monkeypatch_module: Any) -> None:
    """The grammar is not only refusals: some generated expressions run all the way and return values."""
    ran = 0
    for _ in range(200):
        try:
            se.evaluate_text(data.draw(EXPRESSIONS), fuzz_canaries.ns)
            ran += 1
        except Exception:
            pass
    assert ran >= 10
