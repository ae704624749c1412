"""Every guard of evaluate is load-bearing: with the guard in place its check passes; with the guard
neutered (patched to let everything through) the same check fails, for text in Python objects and in
Arrow buffers alike (`STORAGES`).

A guard without a check that fails when it is removed does not count. Layers back each other up, so a
check targets its own guard (`safe_eval_guard_checks`): it asserts the guard's own refusal (an
UnsafeExpression before the library runs, seen through a spy on the library function or an allocation
peak), not merely "something went wrong".
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import pytest

import kimi_lab.tools.safe_eval as se
from kimi_lab.tools.safe_eval import (
    _arrow,
    _builtins,
    _calls,
    _estimate_arrays,
    _estimate_frames,
    _estimate_text,
    _estimators,
    _gate,
    _guards,
    _interpret_calls,
    _interpret_nodes,
    _interpreter,
    _kinds,
    _operators,
    _render,
    _sizes,
)
from kimi_lab.tools.safe_eval import _calls as calls_module
from kimi_lab.tools.safe_eval._budget import Budget

from .hostile_namespace import STORAGES, Canaries, pa, string_storage
from .safe_eval_guard_checks import (
    ESTIMATORS_COVERED,
    RULES_COVERED,
    Guard,
    admission_check,
    admit_everything,
    forgets_refusals_check,
    identity_rule,
    kinds_check,
    no_effect,
    no_estimate,
    read_only_check,
    refused,
    refused_cheaply,
    refused_while,
    render_check,
    small_peak,
    split_spy_check,
    stops_after_a_refusal_check,
)

GUARDS = [
    # what a value may be
    Guard("kinds: callables are never data", lambda mp: (mp.setattr(_kinds, "_cache", {}), mp.setattr(
        _kinds, "_classify", lambda cls, original=_kinds._classify: "record" if original(cls) == "callable"
        else original(cls))), kinds_check),
    Guard("admission refuses functions, stored iterators and handles",
          lambda mp: mp.setattr(_gate.Gate, "admit", admit_everything), admission_check),
    Guard("admission hands out arrays read-only", lambda mp: mp.setattr(_gate.Gate, "_read_only", lambda self, a: a),
          read_only_check),
    Guard("admission drops secret-looking dict keys", lambda mp: mp.setattr(_gate.Gate, "_plain_dict",
                                                                           lambda self, d: d),
          no_effect("list(cfg.values())")),
    Guard("admission reads a defaultdict without inserting", lambda mp: mp.setattr(
        _gate.Gate, "_plain_dict", lambda self, d: d), no_effect("dd['missing']")),
    Guard("crossing checks the cells of object arrays", lambda mp: mp.setattr(
        _gate.Gate, "_check_cells", lambda self, cells, depth: None),
        no_effect("pd.Series([CANARY]).apply(funcs_frame.f.to_numpy())")),
    Guard("crossing checks every element of a container", lambda mp: mp.setattr(
        _gate.Gate, "_cross_sequence", lambda self, value, kind, depth: value),
        no_effect("pd.Series([CANARY]).apply(funcs)")),
    Guard("crossing checks mappings", lambda mp: mp.setattr(
        _gate.Gate, "_cross_new", lambda self, value, kind, depth, original=_gate.Gate._cross_new:
        value if kind in ("dict", "counter") else original(self, value, kind, depth)),
        no_effect("pd.Series([CANARY]).agg(fdict)")),
    Guard("visibility hides history and secrets", lambda mp: mp.setattr(
        _interpreter, "default_hidden", lambda name, value: None), no_effect("In[1]")),
    Guard("records are read from their own __dict__", lambda mp: mp.setattr(
        calls_module, "_record_attribute", lambda ip, owner, name: getattr(owner, name)), no_effect("rec.total")),
    Guard("truth of user objects is not asked", lambda mp: mp.setattr(
        _interpreter.Interpreter, "truth", lambda self, value: bool(value)), no_effect("1 if lazy else 0")),
    Guard("set elements and dict keys are data", lambda mp: mp.setattr(
        _interpreter.Interpreter, "_hashable", lambda self, items: iter(items)), no_effect("{lazy}")),
    Guard("operands are data", lambda mp: mp.setattr(
        _interpret_nodes, "compare", lambda ip, op, a, b: _operators.COMPARISONS[op](a, b)), no_effect("lazy == 1")),
    Guard("the result leaves as data", lambda mp: mp.setattr(
        _interpreter.Interpreter, "cross", lambda self, value, library=True: value), no_effect("[lazy]")),
    Guard("rendering is bounded", lambda mp: mp.setattr(se, "render", lambda value, limit=0: repr(value)),
          render_check),
    Guard("receivers of attributes are checked", lambda mp: mp.setattr(calls_module, "receiver",
                                                                       lambda ip, owner: owner),
          no_effect("by_object.zz")),
    Guard("receivers of subscripts are checked", lambda mp: mp.setattr(
        _interpreter.Interpreter, "_indexed", lambda self, owner, kind: owner), no_effect("by_object['zz']")),
    Guard(".str takes text cells only", lambda mp: mp.setattr(calls_module, "_text_cells_only",
                                                              lambda ip, owner: None),
          no_effect("embeddings.embedding.str.partition(1)")),
    Guard("refused values are not remembered as checked", lambda mp: mp.setattr(
        _gate.Gate, "_forget", lambda self, value: None), forgets_refusals_check),
    Guard("nothing runs after a refusal", lambda mp: (
        mp.setattr(_interpreter.Interpreter, "entering", lambda self: None),
        mp.setattr(_interpreter.Interpreter, "external", lambda self, fn, args=(), kwargs=None: fn(
            *args, **(kwargs or {})))), stops_after_a_refusal_check),
    Guard("time zones are the libraries'", lambda mp: mp.setattr(
        _gate.Gate, "_check_zone", lambda self, value, kind, depth: None), no_effect("str(when)")),
    Guard("attrs are data", lambda mp: mp.setattr(_gate.Gate, "_check_attrs", lambda self, value, depth: None),
          no_effect("attrs_frame.a")),
    Guard("names are data", lambda mp: mp.setattr(_gate.Gate, "_check_names", lambda self, value, kind, d: None),
          no_effect("named")),
    Guard("namedtuples are namedtuple's own", lambda mp: (mp.setattr(_kinds, "_cache", {}), mp.setattr(
        _kinds, "_is_namedtuple", lambda cls: cls.__bases__ == (tuple,) and hasattr(cls, "_fields"))),
        no_effect("str(point)")),
    Guard("types are compared by identity", lambda mp: mp.setattr(
        _builtins, "is_type", lambda value, types: type(value) in types), no_effect("isinstance(metered, int)")),
    Guard("slices are charged", lambda mp: mp.setattr(_interpreter.Interpreter, "_charge_selection",
                                                      lambda self, result, key: None),
          refused("[text[i:] for i in range(40)]")),
    Guard("integer products", lambda mp: mp.setattr(_operators, "guard_product", lambda ip, a, b: None),
          refused("[b.bit_length() for a in [1 << 60000] for b in [a * a]]")),
    Guard("sorting text", lambda mp: mp.setattr(_builtins, "sort_work", lambda text, count: None),
          refused("sorted([text, text[:-1]] * 5)", MAX_SORT_WORK=10**6)),
    Guard("calls of our functions cost steps", lambda mp: mp.setattr(_interpreter, "CALL_STEPS", 0),
          refused("pd.Series(range(10**5)).map(math.sqrt).sum()")),
    Guard("the clock", lambda mp: mp.setattr(Budget, "_check_clock", lambda self: None),
          refused("sum(1 for i in range(3 * 10**5))", MAX_SECONDS=0.2, MAX_STEPS=10**9)),
    # methods and parameters
    Guard("methods are allowed per kind", lambda mp: mp.setitem(
        se.METHODS, "ndarray", {**se.METHODS["ndarray"], "partition": None}), refused("arr.partition(2)")),
    Guard("inplace", identity_rule("false"), no_effect("sales.drop(**{'columns': ['units'], 'inplace': True})")),
    Guard("copy=False", identity_rule("not_false"), refused("sales.units.astype(float, copy=False)")),
    Guard("out= and other writers", identity_rule("absent"), refused("np.clip(arr, 0, 1, arr)")),
    Guard("dtypes", identity_rule("dtype"), refused("sales.units.astype('U10000')")),
    Guard("function names", identity_rule("function"), no_effect("sales.units.apply('to_csv', args=('x.csv',))")),
    Guard("format strings", identity_rule("format"), refused("sales.to_string(float_format='{0.__class__}')")),
    Guard("regular expressions", identity_rule("pattern"), refused("sales.region.str.contains('(a+)+$')")),
    Guard("widths", identity_rule("width"), refused("sales.head().to_string(col_space=5000)")),
    Guard("digits", identity_rule("digits"), refused("sales.price.round(10**6)")),
    Guard("bins", identity_rule("bins"), refused("sales.units.value_counts(bins=20_000)")),
    Guard("periods", identity_rule("periods"), refused("sales.units.shift(list(range(2000)))")),
    Guard("short texts", identity_rule("short_text"), refused("sales.head().to_string(na_rep='x' * 1000)")),
    Guard("codecs", identity_rule("codec"), refused("text.encode('unicode_escape')")),
    Guard("codec error handlers", identity_rule("codec_errors"),
          refused("words[0].encode('ascii', 'xmlcharrefreplace')")),
    Guard("isin kind='table'", identity_rule("kind"), refused("np.isin(arr, [0, 10**9], kind='table')")),
    Guard("time zone names", identity_rule("tz"), refused("sales.month.dt.tz_localize('dateutil/' + CANARY)")),
    Guard("engines", identity_rule("engine"), refused("sales.units.apply(lambda v: v, engine='numba')")),
    # what results cost, priced before they are built
    Guard("merge sizes", no_estimate("merge"), refused_cheaply("dup.head(1000).merge(dup.head(1000), on='k')")),
    Guard("reshape sizes", no_estimate("pivot"), refused_cheaply(
        "pd.DataFrame({'a': big[:1500], 'b': big[:1500]}).pivot_table(index='a', columns='b', values='a')")),
    Guard("melt sizes", no_estimate("melt"), refused_cheaply("wide.iloc[:50].melt(id_vars=list(range(20)))")),
    Guard("fixed-width text dtypes", no_estimate("astype"), refused_cheaply("wide.to_numpy().astype('U64')")),
    Guard("Python lists from arrays", no_estimate("tolist"), refused_cheaply("wide.to_numpy().tolist()")),
    Guard("printing tables", no_estimate("to_string"),
          refused_cheaply("wide.iloc[:, :300].to_string()", budget=4_000_000)),
    Guard("resampling", no_estimate("resample"), refused_cheaply("sales.resample('1min', on='month').sum()")),
    Guard("running text totals", no_estimate("running_text"), refused_cheaply("long_text.cumsum()")),
    Guard("string splits", no_estimate("split_expand"), refused_cheaply("pd.Series(['ab' * 200000]).str.split('')")),
    Guard("regex matches", no_estimate("findall"), refused_cheaply("pd.Series(['ab' * 200000]).str.findall('')")),
    Guard("joining text", no_estimate("join"), refused_cheaply("text.join(['a', 'b'] * 10)")),
    Guard("replacing text", no_estimate("replace"), refused_cheaply("text.replace('a', 'a' * 20)")),
    Guard("padding text", no_estimate("pad"), refused_cheaply("long_text.str.pad(1000)")),
    Guard("encoding text", no_estimate("codec"), refused_cheaply("(text * 5).encode('utf-32')", 12_000_000)),
    Guard("hex text", no_estimate("hex"), refused_cheaply("(b'x' * 6_000_000).hex()", 8_000_000)),
    Guard("unicode normalisation", no_estimate("normalize"), refused_cheaply(
        "pd.Series([text]).str.normalize('NFKD')")),
    Guard("concatenating a column", no_estimate("str_cat"),
          refused("long_text.str.cat(sep='x' * 199)", budget=2_000_000)),
    Guard("formatting dates", no_estimate("format"), refused(
        "sales.month.dt.strftime('%Y' + 'x' * 150)", budget=200_000)),
    Guard("correlation matrices", no_estimate("corr"), refused_cheaply("wide.iloc[:10].corr()")),
    Guard("matrix products", no_estimate("dot"), refused_cheaply(
        "wide.iloc[:10].T.dot(wide.iloc[:10])")),
    Guard("frames from scalars", no_estimate("frame"),
          refused_cheaply("pd.DataFrame(0, index=big, columns=range(500))")),
    Guard("factorials", no_estimate("factorial"), refused("math.factorial(10**5)")),
    Guard("np.diff rounds", no_estimate("diff"), refused("np.diff(arr, 10**5)")),
    Guard("quantile counts", no_estimate("quantiles"), refused_cheaply("statistics.quantiles(xs, n=600_000)")),
    Guard("text made cell by cell", no_estimate("text_map"), refused_cheaply(
        "python_big.str.upper()", budget=8_000_000)),
    Guard("splitting text", no_estimate("split_text"), refused_cheaply("text.split('a')")),
    Guard("index arrays of nonzero", no_estimate("nonzero"), refused_cheaply(
        "np.nonzero((wide.to_numpy() > 0).reshape(200, 2, 10, 10, 10))")),
    Guard("taking slabs of an array", no_estimate("take"), refused_cheaply(
        "(wide.to_numpy() > 0).take([0] * 10_000, axis=0)")),
    Guard("sorting columns of text", no_estimate("sort"), refused(
        "pd.Series(range(10)).map(lambda i: text).sort_values()", budget=64_000_000, MAX_SORT_WORK=10**6)),
    Guard("stacking", no_estimate("stack"), refused_cheaply("wide.stack()", budget=4_000_000)),
    Guard("pairwise window statistics", no_estimate("pairwise"), refused(
        "wide.iloc[:5, :20].rolling(2).cov()", MAX_PAIRS=100)),
    Guard("concatenating frames", no_estimate("concat"), refused_cheaply(
        "pd.concat([pd.Series(0.0, index=range(i * 1000, (i + 1) * 1000)) for i in range(60)], axis=1)")),
    Guard("concatenating arrays", no_estimate("concatenate"), refused_cheaply(
        "np.concatenate([wide.to_numpy().ravel()], dtype='U64')", peak=16_000_000)),
    Guard("shifting by many periods", no_estimate("shift"), refused_cheaply("wide.shift(list(range(20)))")),
    Guard("aligning duplicated labels", no_estimate("aligned"), refused_cheaply(
        "pd.Series(1.0, index=[1] * 1500).add(pd.Series(1.0, index=[1] * 1499))")),
    Guard("broadcasting", no_estimate("broadcast"), refused_cheaply("np.maximum(big[:2000, None], big)")),
    Guard("selections that repeat rows", lambda mp: mp.setattr(_interpreter.Interpreter, "_fancy",
                                                               lambda self, target, key: 0),
          refused_cheaply("wide.iloc[[0] * 2000]")),
    Guard("repetition", lambda mp: mp.setattr(_operators, "_repeat", lambda ip, a, b: 0),
          refused_cheaply("text * 20")),
    Guard("%-formatting", lambda mp: mp.setattr(_operators, "_percent", lambda ip, t, v: 0),
          refused_cheaply("('%s' * 20) % (" + "text, " * 20 + ")")),
    Guard("powers", lambda mp: mp.setattr(_operators, "guard_pow", lambda *a, **k: None), refused("10 ** 100000")),
    Guard("containers converted by a library", lambda mp: mp.setattr(Budget, "peak", lambda self, n, what: None),
          refused_cheaply("np.mean([[1.5] * 1000] * 3000)")),
    Guard("f-string widths", lambda mp: mp.setattr(_interpret_nodes, "check_spec", lambda spec: spec),
          refused('f"{1:>5000}"')),
    Guard("evaluation steps", lambda mp: mp.setattr(se, "MAX_STEPS", 10**9), refused("[x for x in range(10**5)]")),
    Guard("the byte budget", lambda mp: mp.setattr(Budget, "charge", lambda self, n, what="": None),
          refused("[sales.copy() for _ in range(2000)]")),
    # round 2 of the red team: comparisons, categories, text sums, wrapping, attributes, iterators, keys
    Guard("comparing nested containers", lambda mp: mp.setattr(_operators, "scan_work", lambda *a: None),
          refused("[[0] * 100] * 100 == [[0] * 100] * 100", MAX_ITEMS=1_000)),
    Guard("searching nested containers", no_estimate("scan"),
          refused("([[0] * 100] * 100).count([1])", MAX_ITEMS=1_000)),
    Guard("every combination of categories", no_estimate("categories"), refused_cheaply(
        "pd.DataFrame({'a': pd.Categorical([0], categories=range(1500)), "
        "'b': pd.Categorical([0], categories=range(1500))}).value_counts()")),
    Guard("summing text", no_estimate("text_sum"),
          refused("pd.Series(['x' * 10] * 3000, dtype='object').sum()")),
    Guard("wrapping text", no_estimate("wrap"), refused_cheaply(
        "pd.Series([text[:1000]]).str.wrap(1, subsequent_indent='y' * 20000)")),
    Guard("attributes that build per group", lambda mp: mp.setattr(_calls, "attribute_estimate", lambda *a: 0),
          refused_cheaply("pd.DataFrame({'a': range(10**5)}).groupby('a').groups")),
    Guard("items a library iterator makes", lambda mp: mp.setattr(_interpreter, "held_result", lambda value: 0),
          refused_while("the items of this iterator", "list(sales.units.items())", budget=20_000)),
    Guard("keys printed in errors", lambda mp: mp.setattr(_interpreter.Interpreter, "_key_peak", lambda s, k: None),
          refused_cheaply("wide[[text] * 10]")),
    Guard("labels an index holds many times", lambda mp: mp.setattr(
        _interpret_nodes, "_selected", lambda key, labels: len(key)),
        refused_cheaply("dup.set_index('k').loc[[1] * 3000]")),
    Guard("regex replacements", lambda mp: mp.setattr(_estimate_text, "_regex_growth", lambda *a: 0),
          refused_cheaply("pd.Series([text[:10**5]]).replace('.', 'y' * 200, regex=True)")),
    Guard("nested lists become arrays", lambda mp: mp.setattr(
        _estimate_arrays, "_leaves", lambda items, memo=None, depth=0: len(items)),
        refused_cheaply("np.array([[text[:1000]] + [''] * 5000])")),
    Guard("numpy's str is fixed-width", lambda mp: mp.setattr(_estimate_arrays, "_width", functools.partial(
        lambda width, dtype, source, sizes, fixed=False: width(dtype, source, sizes), _estimate_arrays._width)),
        refused_cheaply("pd.Series([text[:2000]] + [''] * 2000).to_numpy(dtype=str)")),
    Guard("ints built to collide in hash tables", lambda mp: mp.setattr(
        _gate.Gate, "colliding_ints", lambda self, values: None),
        refused("len(set([i * (2**61 - 1) for i in range(1000)]))", MAX_BIG_INTS=100)),
    Guard("column titles are printed whole", lambda mp: mp.setattr(
        _estimate_frames, "title_widths", lambda header, frame: []),
        refused_cheaply("pd.DataFrame({'a': range(1000)}).to_string(header=['x' * 20000])")),
    # text stored as Python objects or in Arrow buffers (an Arrow buffer copies what an object column points to)
    Guard("text appended to every cell", lambda mp: mp.setattr(_operators, "_appended", lambda array, text: 0),
          refused_cheaply("sales.region.head(20) + text")),
    Guard("repetition by a column of counts", lambda mp: mp.setattr(_operators, "_repeat", lambda ip, a, b: 0),
          refused_cheaply("sales.region.head(20) * pd.Series([10**5] * 20)")),
    Guard("strings numpy broadcasts", no_estimate("broadcast"), refused_cheaply("np.where(arr > 5, text, '')")),
    Guard("text filled into every cell of a reshape", no_estimate("pivot"), refused_cheaply(
        "sales.pivot_table(index='units', columns='price', values='region', aggfunc='first', "
        "fill_value=text[:10**4])")),
    Guard("transposing a frame", no_estimate("transpose"), refused_cheaply(
        "pd.DataFrame({'a': range(30_000), 'b': 1.5}).transpose()", peak=2_500_000, budget=2_500_000)),
    Guard("what a function returns to pandas", lambda mp: mp.setattr(
        _interpret_calls.CallsAndComprehensions, "_returned", lambda self, result, rows: None),
        refused_cheaply("pd.Series(range(30)).map(lambda i: text)")),
    Guard("rows a merge repeats copy their longest cells", lambda mp: mp.setattr(
        _sizes.Sizes, "row", lambda self, value: 0), refused_cheaply(
        "arrow_sparse.to_frame('t').reset_index().merge(pd.DataFrame({'index': [0] * 30}), on='index')")),
]
if pa is not None:  # guards of Arrow-backed values, checked on the namespace's Arrow data whatever the storage
    GUARDS += [
        Guard("Arrow text costs what its strings cost", lambda mp: mp.setattr(
            _arrow, "python_bytes", lambda data, nested=False: 0), refused_cheaply("texts.arrow * 10**4")),
        Guard("cells Arrow copies into other rows", lambda mp: mp.setattr(_calls, "estimate_copies", lambda c, s: 0),
              refused_cheaply("arrow_sparse.head(20).ffill()")),
        Guard("selections that repeat Arrow rows", lambda mp: mp.setattr(_interpret_nodes, "_unique", lambda k: True),
              refused_cheaply("arrow_big.iloc[[0] * 100]")),
        Guard("reading Arrow cells one by one", lambda mp: mp.setattr(
            _interpreter.Interpreter, "_charge_read", lambda self, cells: None),
            refused("[x for x in arrow_big]", budget=8_000_000)),
        Guard("Python lists of Arrow cells", no_estimate("tolist"), refused_cheaply(
            "arrow_big.tolist()", budget=8_000_000)),
        Guard("a frame's values made of Arrow cells", lambda mp: mp.setattr(
            _calls, "attribute_estimate", lambda *a: 0), refused_cheaply("arrow_frame.values", budget=8_000_000)),
        Guard("label lookups in Arrow-backed labels", lambda mp: mp.setattr(
            _calls, "lookup_peak", lambda ip, axes: None), refused("by_text['zz']", budget=8_000_000)),
        Guard("Arrow cells are cut before they are shown", lambda mp: mp.setattr(
            _render, "_items", lambda values, limit, cell=False: (list(values), False)),
            small_peak("arrow_big", peak=3_000_000)),
        Guard("crossing does not read Arrow cells", lambda mp: mp.setattr(
            _gate, "_cells_are_data", lambda dtype: type(dtype).__name__ == "StringDtype"),
            small_peak("arrow_lists.size", peak=3_000_000)),
        Guard(".str does not read Arrow cells", lambda mp: mp.setattr(
            _calls, "python_cells", lambda dtype: getattr(dtype, "kind", "") == "O"),
            small_peak("arrow_big.str.len().sum()", peak=3_000_000)),
        Guard("regular expressions pyarrow splits by forever", lambda mp: mp.setattr(
            _estimate_text, "_splits_forever", lambda call: False), split_spy_check("texts.large.str.split('')")),
        Guard("Arrow extension types written in Python", lambda mp: mp.setattr(_arrow, "unsupported", lambda d: None),
              no_effect("loud_arrow.tolist()")),
    ]


@pytest.fixture(params=STORAGES)
def run_in(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[Guard, bool], bool]:
    counter = iter(range(100))
    storage = request.param

    def run(guard: Guard, neutered: bool) -> bool:
        """True when the check passed."""
        base = tmp_path / f"run{next(counter)}"
        (base / "work").mkdir(parents=True)
        with pytest.MonkeyPatch.context() as mp, string_storage(storage):
            mp.chdir(base / "work")
            mp.setattr(se, "MAX_BYTES", 16_000_000)
            mp.setattr(se, "MAX_STEPS", 20_000)
            canaries = Canaries(base, storage)
            mp.setenv(canaries.env_name, canaries.env_value)
            canaries.before = canaries._snapshot()
            try:
                if neutered:
                    guard.neuter(mp)
                guard.check(canaries, mp)
                return True
            except (Exception, pytest.fail.Exception):
                return False
            finally:
                canaries.close()

    return run


@pytest.mark.parametrize("guard", GUARDS, ids=lambda g: g.name)
def test_the_guard_is_load_bearing(guard: Guard, run_in: Callable[[Guard, bool], bool]) -> None:
    assert run_in(guard, False), f"with '{guard.name}' in place its check should pass"
    assert not run_in(guard, True), f"with '{guard.name}' removed its check should fail"


def test_every_parameter_rule_and_estimator_is_checked_here() -> None:
    assert set(_guards.RULES) == RULES_COVERED
    assert set(_estimators.ESTIMATORS) == ESTIMATORS_COVERED
