import pandas as pd

from kimi_lab.common.summarize import cap
from kimi_lab.core.interpolate import interpolate


def test_only_known_names_are_replaced_and_json_survives():
    ns = {"city": "Paris", "n": 3}
    prompt = 'Weather in {city}, {n} days, as {"city": "..."} or {unknown} or f"{x!r}" and $\\frac{a}{b}$'
    text, notes = interpolate(prompt, ns)
    assert text == 'Weather in Paris, 3 days, as {"city": "..."} or {unknown} or f"{x!r}" and $\\frac{a}{b}$'
    assert notes == []


def test_double_braces_escape():
    text, _ = interpolate("literal {{city}} and {city}", {"city": "Rome"})
    assert text == "literal {city} and Rome"


def test_dataframe_summary_is_compact():
    df = pd.DataFrame({"region": ["north", "south"] * 50_000, "sales": range(100_000)})
    text, _ = interpolate("Look at {df}", {"df": df})
    assert "100,000 rows × 2 columns" in text
    assert "region (object)" in text or "region (str" in text
    assert len(text) < 4_100


def test_secret_looking_names_are_not_interpolated():
    text, notes = interpolate("use {api_key}", {"api_key": "sk-live-123456789"})
    assert text == "use {api_key}"
    assert "secret" in notes[0]


def test_cap_keeps_head_and_tail():
    text = "a" * 5_000 + "END"
    out = cap(text, 1_000)
    assert out.startswith("aaa") and out.endswith("END") and "characters cut" in out
    assert len(out) < 1_100


def test_what_the_tools_may_not_show_is_not_interpolated_either():
    import types

    ns = {"In": ["x = 1"], "_i1": "x = 1", "_": 42, "np": types.ModuleType("numpy"), "threshold": 0.5,
          "db_url": "postgres://app:hunter2@db/sales"}
    text, notes = interpolate("{In} {_i1} {_} {np} {db_url} {threshold}", ns)
    assert text == "{In} {_i1} {_} {np} {db_url} 0.5"
    assert notes == [
        "left {In} as text: it is IPython's input history",
        "left {_i1} as text: it is IPython's input history",
        "left {_} as text: it is IPython's output history",
        "left {np} as text: it is a module",
        "left {db_url} as text: its value looks like a secret (a key, token, password or credential URL)",
    ]
