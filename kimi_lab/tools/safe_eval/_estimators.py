"""Every estimator by the name the allow-lists give it (`_allowlists.METHODS` and `MODULE_FUNCTIONS`)."""

from __future__ import annotations

from kimi_lab.tools.safe_eval._callsite import CallSite, Estimator
from kimi_lab.tools.safe_eval._estimate_arrays import ARRAY_ESTIMATORS
from kimi_lab.tools.safe_eval._estimate_frames import FRAME_ESTIMATORS
from kimi_lab.tools.safe_eval._estimate_reshapes import RESHAPE_ESTIMATORS
from kimi_lab.tools.safe_eval._estimate_text import TEXT_ESTIMATORS

__all__ = ["ESTIMATORS", "CallSite", "Estimator"]

ESTIMATORS: dict[str, Estimator] = {
    **TEXT_ESTIMATORS, **ARRAY_ESTIMATORS, **FRAME_ESTIMATORS, **RESHAPE_ESTIMATORS
}
