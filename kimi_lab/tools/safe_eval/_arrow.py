"""Cells pandas keeps in Arrow buffers, measured without making a Python object of any of them.

With pyarrow installed, pandas 3 stores text as `StringDtype("pyarrow")` (its default `str` dtype),
`string[pyarrow]` or `ArrowDtype(pa.string())` / `large_string` / `binary` / lists and structs of them.
Such a column is one buffer of UTF-8 bytes: its deep and shallow memory are the same, so the measures
that count text by the Python objects a column points to would see nothing. Yet its cells become Python
objects whenever pandas falls back to Python (`apply`, `map`, many `.str` methods, `tolist`, printing),
and an Arrow buffer never shares a cell: a value that an object column would point to a million times
is copied a million times.

So a column's text is measured here as what its cells are as Python objects (`sys.getsizeof` of each
string: 49 bytes plus one to four bytes a character, by its widest character), computed with pyarrow's
vectorised functions in slices, so a text column costs the same whatever its storage. Types pandas
cannot handle safely (view types, unions, run-end encoding, extension types whose Python classes would
run on conversion) are refused by `unsupported`.
"""

from __future__ import annotations

import sys
from typing import Any

from kimi_lab.tools.safe_eval._kinds import kind_of

_SLICE = 1 << 18  # rows measured at once: the temporary vectors stay a few megabytes
_ASCII, _WIDE_EXTRA = 49, 24  # sys.getsizeof("") and the extra header of a non-ASCII str
_BYTES = 33  # sys.getsizeof(b"")
_BOXED = 32  # a number or other scalar made into a Python object
_LIST, _DICT, _FIELD = 112, 232, 100  # a cell's list (or numpy array), a struct's dict, a field in it


def is_arrow(dtype: Any) -> bool:
    """A pandas dtype whose cells live in Arrow buffers."""
    if kind_of(dtype) != "dtype":
        return False
    name = type(dtype).__name__
    if name == "StringDtype":
        return getattr(dtype, "storage", None) == "pyarrow"
    return name == "ArrowDtype"


def is_text(dtype: Any) -> bool:
    """pandas' string dtypes, any storage, and Arrow string and binary types: every cell is text (or missing)."""
    if kind_of(dtype) != "dtype":
        return False
    name = type(dtype).__name__
    if name == "StringDtype":
        return True
    if name != "ArrowDtype":
        return False
    types = _pyarrow().types
    t = dtype.pyarrow_dtype
    return bool(types.is_string(t) or types.is_large_string(t) or types.is_binary(t) or types.is_large_binary(t))


def is_string(dtype: Any) -> bool:
    """pandas' string dtypes, any storage, and Arrow strings: `.str.len()` and `.str.slice()` work on them."""
    if kind_of(dtype) != "dtype" or not is_text(dtype):
        return False
    return type(dtype).__name__ == "StringDtype" or _is_stringlike(dtype.pyarrow_dtype)


def chunks(value: Any) -> Any:
    """The pyarrow ChunkedArray holding the cells of a Series, Index or extension array (no copy), or None."""
    if kind_of(value) not in ("Series", "Index", "ExtensionArray") or not is_arrow(value.dtype):
        return None
    array = value if kind_of(value) == "ExtensionArray" else value.array
    data = array.__arrow_array__()
    return data if hasattr(data, "chunks") else _pyarrow().chunked_array([data])


def unsupported(dtype: Any) -> str | None:
    """Why evaluate does not handle an Arrow dtype (None when it does): pandas cannot filter view types, and
    the methods of an extension type written in Python (the user's code) run when its cells are read."""
    if kind_of(dtype) != "dtype" or type(dtype).__name__ != "ArrowDtype":
        return None
    return _unsupported_type(dtype.pyarrow_dtype)


def _unsupported_type(t: Any) -> str | None:
    pa = _pyarrow()
    types = pa.types
    if isinstance(t, pa.BaseExtensionType):
        if str(type(t).__module__).split(".")[0] != "pyarrow":  # a Python subclass: its scalars run its code
            return "an Arrow extension type defined in Python, whose methods run when a cell is read"
        return _unsupported_type(t.storage_type)
    for check in ("is_string_view", "is_binary_view", "is_list_view", "is_large_list_view", "is_union",
                  "is_run_end_encoded"):
        if getattr(types, check, lambda _: False)(t):
            return "an Arrow type pandas does not fully support"
    children = [t.value_type] if types.is_dictionary(t) else [t.field(i).type for i in range(t.num_fields)]
    for child in children:
        reason = _unsupported_type(child)
        if reason:
            return reason
    return None


# what the cells are as Python objects --------------------------------------------------------------------------


def python_bytes(data: Any, nested: bool = False) -> int:
    """Bytes of every cell of `data` (a pyarrow Array or ChunkedArray) as a Python object, counted each time it
    appears. Numbers at the top level count 0 (as in a numeric column); inside lists, as boxed objects."""
    total = 0
    for piece in _pieces(data):
        total += _piece_bytes(piece, nested)
    return total


def widest(data: Any) -> int:
    """Bytes of the biggest cell of `data` as a Python object: what one copied cell can cost."""
    return max((_piece_widest(piece) for piece in _pieces(data)), default=0)


def max_chars(data: Any) -> int:
    """Characters of the longest cell as printed (a string's length, four per byte of binary, a list's items)."""
    return max((_piece_chars(piece) for piece in _pieces(data)), default=0)


def cell_bytes(data: Any) -> Any:
    """The Python size of each cell, as a numpy array of int64 (0 for missing cells)."""
    np = sys.modules["numpy"]
    parts = [_cell_vector(piece).to_numpy(zero_copy_only=False) for piece in _pieces(data)]
    return np.concatenate(parts).astype("int64") if parts else np.zeros(0, dtype="int64")


def _pieces(data: Any) -> Any:
    for chunk in getattr(data, "chunks", [data]):
        for start in range(0, len(chunk), _SLICE):
            yield chunk.slice(start, _SLICE)


def _piece_bytes(piece: Any, nested: bool) -> int:
    pa = _pyarrow()
    t = piece.type
    if _is_stringlike(t) or _is_binarylike(t) or pa.types.is_dictionary(t):
        return _sum(_cell_vector(piece))
    valid = len(piece) - piece.null_count
    if _is_listlike(t):
        values = _list_values(piece)
        extra = _BOXED * 2 * len(values) if pa.types.is_map(t) else 0  # each entry a (key, value) tuple
        return valid * _LIST + 8 * len(values) + extra + python_bytes(values, nested=True)
    if pa.types.is_struct(t):
        fields = piece.flatten()
        return valid * (_DICT + _FIELD * len(fields)) + sum(python_bytes(field, nested=True) for field in fields)
    return valid * _BOXED if nested and not pa.types.is_null(t) else 0


def _cell_vector(piece: Any) -> Any:
    """Per-cell Python sizes of a string, binary or dictionary-encoded piece."""
    pa, pc = _pyarrow(), _compute()
    t = piece.type
    if pa.types.is_dictionary(t):
        per_value = _cell_vector(piece.dictionary) if _is_stringlike(t.value_type) or _is_binarylike(
            t.value_type) else pa.array([python_bytes(piece.dictionary, nested=True)] * len(piece.dictionary))
        return pc.fill_null(pc.take(per_value, piece.indices), 0)
    if _is_binarylike(t):
        return pc.fill_null(pc.add(pc.cast(pc.binary_length(piece), pa.int64()), _BYTES), 0)
    chars = pc.cast(pc.utf8_length(piece), pa.int64())
    size = pc.add(chars, _ASCII)
    if pc.all(pc.string_is_ascii(piece)).as_py() not in (True, None):
        zero = pa.scalar(0, pa.int64())
        non_ascii = pc.invert(pc.string_is_ascii(piece))
        wide = pc.match_substring_regex(piece, r"[^\x{00}-\x{FF}]")  # two bytes a character
        size = pc.add(size, pc.if_else(non_ascii, _WIDE_EXTRA, zero))
        size = pc.add(size, pc.if_else(wide, pc.add(chars, 1), zero))
        if pc.any(wide).as_py():
            astral = pc.match_substring_regex(piece, r"[\x{10000}-\x{10FFFF}]")  # four bytes a character
            size = pc.add(size, pc.if_else(astral, pc.add(pc.multiply(chars, 2), 2), zero))
    return pc.fill_null(size, 0)


def _piece_widest(piece: Any) -> int:
    pa, pc = _pyarrow(), _compute()
    t = piece.type
    if _is_stringlike(t) or _is_binarylike(t) or pa.types.is_dictionary(t):
        return _max(_cell_vector(piece))
    if _is_listlike(t):
        values = _list_values(piece)
        longest = _max(pc.list_value_length(piece)) if not pa.types.is_map(t) else len(values)
        return _LIST + longest * (8 + widest(values) + (2 * _BOXED if pa.types.is_map(t) else 0))
    if pa.types.is_struct(t):
        return _DICT + sum(_FIELD + widest(field) for field in piece.flatten())
    return _BOXED


def _piece_chars(piece: Any) -> int:
    pa, pc = _pyarrow(), _compute()
    t = piece.type
    if pa.types.is_dictionary(t):
        return max_chars(piece.dictionary)
    if _is_stringlike(t):
        return _max(pc.utf8_length(piece))
    if _is_binarylike(t):
        return 4 * _max(pc.binary_length(piece)) + 3  # b'\x00': four characters a byte
    if _is_listlike(t):
        values = _list_values(piece)
        longest = _max(pc.list_value_length(piece)) if not pa.types.is_map(t) else len(values)
        return longest * (max_chars(values) + 4) + 2
    if pa.types.is_struct(t):
        return sum(max_chars(field) + len(t.field(i).name) + 6 for i, field in enumerate(piece.flatten())) + 2
    return 32


def _list_values(piece: Any) -> Any:
    """The items of a list piece's cells (only those of its rows, when it is a slice)."""
    pa = _pyarrow()
    if pa.types.is_map(piece.type):  # list_flatten has no kernel for maps: read them as lists of entries
        offsets = piece.offsets
        start, stop = offsets[0].as_py(), offsets[len(offsets) - 1].as_py()
        return piece.values.slice(start, stop - start)
    return piece.flatten()


def _is_stringlike(t: Any) -> bool:
    types = _pyarrow().types
    return bool(types.is_string(t) or types.is_large_string(t))


def _is_binarylike(t: Any) -> bool:
    types = _pyarrow().types
    return bool(types.is_binary(t) or types.is_large_binary(t) or types.is_fixed_size_binary(t))


def _is_listlike(t: Any) -> bool:
    types = _pyarrow().types
    return bool(types.is_list(t) or types.is_large_list(t) or types.is_fixed_size_list(t) or types.is_map(t))


def _sum(vector: Any) -> int:
    return int(_compute().sum(vector).as_py() or 0)


def _max(vector: Any) -> int:
    return int(_compute().max(vector).as_py() or 0)


def _pyarrow() -> Any:
    import pyarrow  # loaded already: pandas made the Arrow-backed value being measured

    return pyarrow


def _compute() -> Any:
    import pyarrow.compute

    return pyarrow.compute
