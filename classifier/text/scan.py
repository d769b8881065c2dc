"""The one switch between the compiled inner loops of the batch path and their Python fallback.

`classifier.text._scan` is an optional C extension (built by `pip install` when a compiler is
there, see setup.py) for the loops that dominate a batch: mapping tokens to vocabulary ids,
Han character n-grams, and the concept automaton's scan. `compiled()` returns it, or None when
it is not built, does not import, or the environment sets `PMC_PURE_PYTHON=1`; callers then
run the pure-Python/numpy code, which is the reference. Both give the same numbers bit for bit
(tests/scoring/test_batch.py runs both). The variable is read at each call, so a test or a
benchmark can switch within one process; objects built for one path keep using it.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

__all__ = ["compiled", "PURE_PYTHON_VARIABLE"]

PURE_PYTHON_VARIABLE = "PMC_PURE_PYTHON"

_MODULE: list[ModuleType | None] = []  # the import's result, once


def compiled() -> ModuleType | None:
    """The compiled `_scan` module, or None (not built, or `PMC_PURE_PYTHON=1`)."""
    if os.environ.get(PURE_PYTHON_VARIABLE, "") not in ("", "0"):
        return None
    if not _MODULE:
        try:
            _MODULE.append(importlib.import_module(f"{__package__}._scan"))
        except ImportError:
            _MODULE.append(None)
    return _MODULE[0]
