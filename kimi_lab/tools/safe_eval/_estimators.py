"""Every estimator by the name the allow-lists give it (`_allowlists.METHODS` and `MODULE_FUNCTIONS`)."""

from __future__ import annotations

from kimi_lab.tools.safe_eval._callsite import CallSite, Estimator
from kimi_lab.tools.safe_eval._estimate_data import DATA_ESTIMATORS
from kimi_lab.tools.safe_eval._estimate_text import TEXT_ESTIMATORS

__all__ = ["ESTIMATORS", "CallSite", "Estimator"]

ESTIMATORS: dict[str, Estimator] = {**TEXT_ESTIMATORS, **DATA_ESTIMATORS}
