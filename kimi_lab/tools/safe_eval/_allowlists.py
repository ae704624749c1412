"""Everything evaluate allows, in one file: builtins, methods and attributes per kind, module functions,
and the rules for parameters by name.

Allow-lists rather than block-lists: a name missing here is refused, so a new pandas method or builtin
cannot slip through. Methods are listed per kind of receiver (see `_kinds`), so `partition` is allowed
on a str and not on an ndarray, where it sorts in place. A method's entry names the estimator (in
`_sizes`) that prices its result before it runs, where the result can be much bigger than its inputs;
`None` means the result is at most about the size of the inputs and is charged when it exists.
"""

from __future__ import annotations

ALLOWED_BUILTINS: frozenset[str] = frozenset(
    "abs all any bool dict divmod enumerate filter float frozenset int isinstance len list map max min pow "
    "range repr reversed round set sorted str sum tuple zip".split()
)
# The builtin types among them, for isinstance() and `str.upper(x)`.
BUILTIN_TYPES = frozenset(
    "bool dict float frozenset int list range set str tuple enumerate filter map reversed zip".split()
)


def _names(spec: str, **estimated: str) -> dict[str, str | None]:
    table: dict[str, str | None] = dict.fromkeys(spec.split())
    table.update(estimated)
    return table


_TEXT_METHODS = (
    "capitalize casefold count endswith find index isalnum isalpha isascii isdecimal isdigit isidentifier islower "
    "isnumeric isprintable isspace istitle isupper lower lstrip partition removeprefix removesuffix rfind rindex "
    "rpartition rsplit rstrip split splitlines startswith strip swapcase title upper"
)
_REDUCTIONS = "sum mean median min max std var sem count nunique prod product any all skew kurt quantile mode"
_RUNNING = "cumsum cumprod cummax cummin diff pct_change shift rank"
_MISSING = "isna isnull notna notnull fillna ffill bfill dropna interpolate"
_FRAME_COMMON = (
    f"{_REDUCTIONS} {_RUNNING} {_MISSING} head tail describe value_counts idxmax idxmin abs round clip "
    "between isin where mask sort_values sort_index nlargest nsmallest drop drop_duplicates duplicated "
    "reset_index set_index rename rename_axis droplevel swaplevel squeeze copy equals memory_usage get "
    "convert_dtypes infer_objects groupby resample rolling expanding ewm agg aggregate apply transform map "
    "items keys add sub mul div truediv floordiv mod pow radd rsub rmul rdiv rtruediv rfloordiv eq ne lt le gt "
    "ge combine_first align at_time between_time truncate asfreq first_valid_index last_valid_index "
    "autocorr corrwith compare transpose factorize argsort argmax argmin searchsorted item unique to_frame "
    "to_period to_timestamp tz_localize tz_convert"
)
_GROUP_COMMON = (
    f"{_REDUCTIONS} {_RUNNING} size first last cumcount head tail nth agg aggregate apply transform filter "
    "describe value_counts get_group idxmax idxmin ohlc nlargest nsmallest unique resample rolling expanding "
    "ewm corr cov fillna ffill bfill"
)

# Estimators shared by several kinds (names of functions in `_estimators`).
_SORTS = dict.fromkeys("sort_values sort_index argsort rank nlargest nsmallest".split(), "sort")
_FLEX = dict.fromkeys(
    "add sub mul div truediv floordiv mod pow radd rsub rmul rdiv rtruediv rfloordiv eq ne lt le gt ge "
    "combine_first align compare corrwith where mask".split(),
    "aligned",
)
_FRAME_SIZED = {
    **_SORTS, **_FLEX, "astype": "astype", "to_numpy": "astype", "to_dict": "tolist", "to_string": "to_string",
    "to_markdown": "to_string", "dot": "dot", "cumsum": "running_text", "cumprod": "running_text",
    "resample": "resample", "asfreq": "resample", "shift": "shift", "unstack": "pivot", "corr": "corr",
    "cov": "corr", "groupby": "categories", "sum": "text_sum",
}
_TEXT_MAPS = dict.fromkeys(
    "upper lower strip lstrip rstrip title capitalize casefold swapcase slice get removeprefix removesuffix "
    "partition rpartition".split(),
    "text_map",
)

# kind -> method -> estimator name (None: no estimate needed)
METHODS: dict[str, dict[str, str | None]] = {
    "str": _names(
        _TEXT_METHODS, join="join", replace="replace", encode="codec", center="pad", ljust="pad", rjust="pad",
        zfill="pad", split="split_text", rsplit="split_text", splitlines="split_text",
    ),
    "bytes": _names(
        _TEXT_METHODS, join="join", replace="replace", decode="codec", hex="hex", center="pad", ljust="pad",
        rjust="pad", zfill="pad", split="split_text", rsplit="split_text", splitlines="split_text",
    ),
    "int": _names("bit_length bit_count conjugate as_integer_ratio is_integer"),
    "bool": _names("bit_length conjugate"),
    "float": _names("is_integer as_integer_ratio hex conjugate"),
    "complex": _names("conjugate"),
    "decimal": _names("quantize is_nan is_signed is_zero is_finite as_integer_ratio to_integral_value normalize "
                      "sqrt ln log10 exp adjusted copy_abs"),
    "fraction": _names("limit_denominator as_integer_ratio"),
    "list": _names("copy", count="scan", index="scan"),
    "tuple": _names("", count="scan", index="scan"),
    "dict": _names("get keys values items copy"),
    "counter": _names("get keys values items copy most_common total elements"),
    "set": _names("union intersection difference symmetric_difference issubset issuperset isdisjoint copy"),
    "frozenset": _names("union intersection difference symmetric_difference issubset issuperset isdisjoint copy"),
    "deque": _names("copy", count="scan", index="scan"),
    "range": _names("count index"),
    "date": _names("isoformat weekday isoweekday isocalendar toordinal ctime replace", strftime="format"),
    "datetime": _names(
        "isoformat weekday isoweekday isocalendar toordinal ctime replace date time timestamp utcoffset tzname "
        "astimezone", strftime="format",
    ),
    "time": _names("isoformat replace utcoffset tzname", strftime="format"),
    "timedelta": _names("total_seconds"),
    "npscalar": _names("item round is_integer conjugate tolist astype"),
    "ndarray": _names(
        "all any argmax argmin copy cumprod cumsum diagonal max mean min prod ptp ravel "
        "reshape round searchsorted squeeze std sum swapaxes trace transpose var item flatten",
        astype="astype", tolist="tolist", dot="dot", argsort="sort", nonzero="nonzero", take="take",
        clip="broadcast",
    ),
    "DataFrame": _names(
        f"{_FRAME_COMMON} corr cov pivot melt stack select_dtypes assign join merge iterrows itertuples "
        "nunique dot",
        **_FRAME_SIZED, merge="merge", join="merge", pivot="pivot", pivot_table="pivot", melt="melt",
        stack="stack", value_counts="categories", transpose="transpose",
    ),
    "Series": _names(
        f"{_FRAME_COMMON} corr cov tolist to_list to_dict to_numpy unstack",
        **_FRAME_SIZED, tolist="tolist", to_list="tolist", replace="replace",
    ),
    "Index": _names(
        "min max argmin argmax argsort sort_values copy drop drop_duplicates duplicated isna notna fillna dropna "
        "map rename equals get_loc get_indexer get_level_values droplevel to_flat_index to_series to_frame unique "
        "nunique value_counts isin union intersection difference symmetric_difference where shift any all "
        "searchsorted day_name month_name normalize floor ceil round to_period tz_localize tz_convert",
        astype="astype", to_numpy="astype", tolist="tolist", to_list="tolist", strftime="format",
        sort_values="sort", argsort="sort",
    ),
    "Categorical": _names("unique value_counts isna notna min max copy equals", tolist="tolist", to_numpy="astype",
                          astype="astype"),
    "ExtensionArray": _names("unique value_counts isna copy equals min max", tolist="tolist",
                             to_numpy="astype", astype="astype", argsort="sort"),
    "GroupBy": _names(_GROUP_COMMON, sum="text_sum", cumsum="running_text", cumprod="running_text", resample="resample",
                      nlargest="sort", nsmallest="sort", rank="sort"),
    "Resampler": _names(
        f"{_REDUCTIONS} size first last ohlc agg aggregate apply transform interpolate ffill bfill nearest asfreq"
    ),
    "Window": _names(f"{_REDUCTIONS} apply agg aggregate rank", corr="pairwise", cov="pairwise"),
    "StringMethods": _names(
        f"{_TEXT_METHODS.replace('isascii ', '').replace('isidentifier ', '').replace('isprintable ', '')} "
        "len slice get contains match fullmatch wrap",
        **_TEXT_MAPS, extract="findall", extractall="findall", findall="findall",
        replace="replace", split="split_expand", rsplit="split_expand", cat="str_cat", center="pad", ljust="pad",
        rjust="pad", zfill="pad", pad="pad", normalize="normalize", encode="codec", decode="codec", wrap="wrap",
    ),
    "DatetimeProperties": _names(
        "day_name month_name normalize to_period tz_localize tz_convert floor ceil round isocalendar "
        "to_pydatetime total_seconds to_pytimedelta",
        strftime="format",
    ),
    "CategoricalAccessor": {},
    "Indexer": {},
    "Timestamp": _names(
        "isoformat day_name month_name normalize floor ceil round tz_localize tz_convert to_period date time "
        "timestamp weekday isoweekday isocalendar to_pydatetime to_datetime64 replace",
        strftime="format",
    ),
    "Timedelta": _names("total_seconds floor ceil round to_pytimedelta to_timedelta64 isoformat"),
    "Period": _names("asfreq to_timestamp", strftime="format"),
    "Interval": _names("overlaps"),
}

_SHAPED = "shape size ndim empty dtype dtypes"
# kind -> attributes that may be read (a DataFrame column or a record's own attribute needs no entry)
ATTRIBUTES: dict[str, frozenset[str]] = {
    "int": frozenset("real imag numerator denominator".split()),
    "bool": frozenset("real imag".split()),
    "float": frozenset("real imag".split()),
    "complex": frozenset("real imag".split()),
    "fraction": frozenset("numerator denominator".split()),
    "range": frozenset("start stop step".split()),
    "slice": frozenset("start stop step".split()),
    "date": frozenset("year month day".split()),
    "datetime": frozenset("year month day hour minute second microsecond tzinfo fold".split()),
    "time": frozenset("hour minute second microsecond tzinfo".split()),
    "timedelta": frozenset("days seconds microseconds".split()),
    "npscalar": frozenset("real imag dtype".split()),
    "dtype": frozenset("name kind itemsize char categories ordered unit tz".split()),
    "ndarray": frozenset(f"{_SHAPED} T nbytes itemsize real imag".split()),
    "DataFrame": frozenset(f"{_SHAPED} columns index values T loc iloc at iat axes".split()),
    "Series": frozenset(
        f"{_SHAPED} index values name T loc iloc at iat str dt cat is_unique is_monotonic_increasing "
        "is_monotonic_decreasing hasnans nbytes axes".split()
    ),
    "Index": frozenset(
        f"{_SHAPED} values name names is_unique is_monotonic_increasing is_monotonic_decreasing hasnans nlevels "
        "levels codes str dt nbytes T inferred_type year month day hour minute second dayofweek day_of_week "
        "dayofyear quarter date freq tz".split()
    ),
    "Categorical": frozenset(f"{_SHAPED} categories codes ordered nbytes".split()),
    "ExtensionArray": frozenset(f"{_SHAPED} nbytes".split()),
    "GroupBy": frozenset("groups ngroups indices dt".split()),
    "DatetimeProperties": frozenset(
        "year month day hour minute second microsecond nanosecond date time dayofweek day_of_week weekday "
        "dayofyear day_of_year quarter is_month_start is_month_end is_quarter_start is_quarter_end is_year_start "
        "is_year_end is_leap_year days_in_month daysinmonth tz freq unit days seconds microseconds nanoseconds "
        "components start_time end_time qyear".split()
    ),
    "CategoricalAccessor": frozenset("categories codes ordered".split()),
    "Timestamp": frozenset(
        "year month day hour minute second microsecond nanosecond dayofweek day_of_week dayofyear day_of_year "
        "quarter is_leap_year is_month_start is_month_end is_quarter_start is_quarter_end is_year_start is_year_end "
        "days_in_month week weekofyear tz tzinfo value unit".split()
    ),
    "Timedelta": frozenset("days seconds microseconds nanoseconds components value unit".split()),
    "Period": frozenset("year month day hour quarter freq start_time end_time freqstr ordinal qyear".split()),
    "Interval": frozenset("left right mid length closed".split()),
    "Offset": frozenset("n freqstr name".split()),
}

# Module functions: module -> function -> estimator. Each is called through the same parameter rules.
MODULE_FUNCTIONS: dict[str, dict[str, str | None]] = {
    "numpy": _names(
        "mean std var sum prod nanmean nansum nanstd nanvar nanprod cumsum cumprod median min max nanmin nanmax "
        "nanmedian argmax argmin round around any all percentile quantile nanpercentile nanquantile "
        "sqrt log log10 log2 log1p exp expm1 abs absolute fabs floor ceil trunc rint sign isnan isinf isfinite "
        "square cbrt ravel average searchsorted count_nonzero isin ptp",
        nonzero="nonzero", flatnonzero="nonzero", argwhere="nonzero",
        corrcoef="corr", cov="corr", histogram=None, array="astype", asarray="astype", diff="diff",
        concatenate="concatenate", sort="sort", argsort="sort", unique="sort", maximum="broadcast",
        minimum="broadcast", where="broadcast", clip="broadcast",
    ),
    "pandas": _names(
        "to_numeric to_timedelta isna isnull notna notnull cut qcut unique Timestamp Timedelta "
        "Period Categorical Index",
        concat="concat", merge="merge", crosstab="pivot", pivot_table="pivot", Series="astype", DataFrame="frame",
        to_datetime=None, melt="melt",
    ),
    "math": _names(
        "sqrt exp log log10 log2 log1p expm1 floor ceil trunc fabs isnan isinf isfinite isclose pow sin cos tan "
        "asin acos atan atan2 sinh cosh tanh hypot degrees radians copysign fsum gcd isqrt dist erf erfc gamma "
        "lgamma fmod modf frexp ldexp remainder",
        factorial="factorial", comb="factorial", perm="factorial",
    ),
    "statistics": _names(
        "mean fmean geometric_mean harmonic_mean median median_low median_high median_grouped mode multimode "
        "pstdev pvariance stdev variance correlation covariance linear_regression",
        quantiles="quantiles",
    ),
}
MODULE_CONSTANTS: dict[str, frozenset[str]] = {
    "numpy": frozenset({"pi", "e", "inf", "nan", "newaxis"}),
    "pandas": frozenset({"NA", "NaT"}),
    "math": frozenset({"pi", "e", "tau", "inf", "nan"}),
}

# Method names pandas looks up by string (df.agg("sum")): only these, since pandas calls them with any arguments.
AGG_NAMES = frozenset(
    "sum mean median min max std var sem count nunique size first last prod product any all idxmax idxmin "
    "quantile mode skew kurt cumsum cumprod cummax cummin cumcount rank diff pct_change abs round unique "
    "describe nlargest nsmallest head tail ohlc isna notna".split()
)
# Text codecs whose output is at most four bytes per character (escape codecs grow text tenfold).
CODECS = frozenset(
    "utf-8 utf8 utf_8 ascii latin-1 latin1 latin_1 iso-8859-1 iso8859-1 cp1252 utf-16 utf16 utf_16 utf-32 utf32 "
    "utf_32 utf-16-le utf-16-be utf-32-le utf-32-be".split()
)
CODEC_ERRORS = frozenset("strict ignore replace".split())

# Rules by parameter name, for every library call after its arguments are bound to the parameters they fill
# (positional ones included) and for every keyword pandas passes on (df.apply(f, mode="w") reaches f).
PARAMETER_RULES: dict[str, str] = {
    "inplace": "false",
    "copy": "not_false",
    **dict.fromkeys(
        "out buf path path_or_buf file fname excel_writer filepath_or_buffer mode engine_kwargs".split(), "absent"
    ),
    "dtype": "dtype",
    "func": "function",
    "aggfunc": "function",
    "float_format": "format",
    "formatters": "format",
    "date_format": "format",
    "floatfmt": "format",
    "intfmt": "format",
    "format": "format",
    "engine": "engine",
    "bins": "bins",
    "q": "bins",
    **dict.fromkeys("col_space max_colwidth line_width width fillchar_width tabsize".split(), "width"),
    **dict.fromkeys("decimals ndigits".split(), "digits"),
    **dict.fromkeys("pat to_replace".split(), "pattern"),
    "periods": "periods",
    **dict.fromkeys("na_rep sep decimal".split(), "short_text"),
    "errors": "codec_errors",
}

# Why a known name is refused, for the message the model reads.
REFUSED_METHODS: dict[str, str] = {
    **dict.fromkeys(
        "to_csv to_excel to_json to_parquet to_pickle to_feather to_hdf to_sql to_clipboard to_latex to_html "
        "to_xml to_stata to_orc to_gbq savetxt save savez savez_compressed tofile dump dumps".split(),
        "it writes files",
    ),
    **dict.fromkeys(
        "append extend insert pop popitem remove discard clear update setdefault sort fill put resize itemset "
        "setflags add intersection_update difference_update byteswap".split(),
        "it changes the object in place",
    ),
    **dict.fromkeys(
        "sample repeat tile expandtabs reindex explode get_dummies translate".split(),
        "its size argument can allocate unbounded memory",
    ),
    **dict.fromkeys("eval pipe exec query".split(), "it evaluates code or calls arbitrary functions"),
    **dict.fromkeys(
        "plot hist boxplot info display print style".split(), "it draws or prints instead of returning a value"
    ),
}
FORBIDDEN_NAMES: dict[str, str] = {
    **dict.fromkeys("eval exec compile".split(), "it runs arbitrary code"),
    "open": "it opens files",
    **dict.fromkeys("getattr setattr delattr hasattr".split(), "it reaches attributes by computed name"),
    **dict.fromkeys("globals locals vars dir".split(), "it exposes interpreter internals"),
    **dict.fromkeys("breakpoint input help exit quit".split(), "it waits for interaction"),
    "print": "it prints instead of returning a value",
    **dict.fromkeys("type object super classmethod staticmethod property".split(), "it can build or inspect classes"),
    **dict.fromkeys("iter next".split(), "it advances iterators, a side effect"),
    "format": "format specs are not allowed outside f-strings",
}
# Attributes refused by spelling on anything, for the message (they lead to frames, globals or formatting).
BLOCKED_ATTRIBUTES = frozenset(
    "gi_frame gi_code gi_yieldfrom cr_frame cr_code cr_await ag_frame ag_code f_globals f_locals f_builtins "
    "f_back f_code tb_frame tb_next mro format format_map".split()
)


def all_method_names() -> frozenset[str]:
    """Every method name allowed on some kind or module: the static check refuses anything else early."""
    names = {name for table in METHODS.values() for name in table}
    names |= {name for table in MODULE_FUNCTIONS.values() for name in table}
    return frozenset(names)
