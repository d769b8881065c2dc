"""The one switch between the compiled inner loops of the batch path and their Python fallback.

`classifier.text._scan` is an optional C extension (built by `pip install` when a compiler is
there, see setup.py) for the loops that dominate a batch: mapping tokens to vocabulary ids
(tokenising pure-ASCII text on the way), Han character n-grams, the concept automaton's scan
and the linear sums. `compiled()` returns it, or None when it is not built, does not import, is
a build of another version of `_scan.c` (`VERSION`), or the environment sets
`PMC_PURE_PYTHON=1`; callers then run the pure-Python/numpy code, which is the reference. Both give the same numbers bit for bit
(tests/scoring/test_batch.py runs both). The variable is read at each call, so a test or a
benchmark can switch within one process: a `BatchScorer` keeps the path it was built with, the
concept scan asks at each batch (either way the numbers are the same).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

__all__ = ["compiled", "PURE_PYTHON_VARIABLE", "VERSION"]

PURE_PYTHON_VARIABLE = "PMC_PURE_PYTHON"
VERSION = 1  # = the VERSION constant of _scan.c; raise both when the C interface changes

_MODULE: list[ModuleType | None] = []  # the import's result, once


def compiled() -> ModuleType | None:
    """The compiled `_scan` module, or None (not built, built from another version, or `PMC_PURE_PYTHON=1`)."""
    if os.environ.get(PURE_PYTHON_VARIABLE, "") not in ("", "0"):
        return None
    if not _MODULE:
        try:
            module = importlib.import_module(f"{__package__}._scan")
        except ImportError:
            module = None
        # A build left over from an older `_scan.c` (an editable install not rebuilt after a pull)
        # may lack what this code calls: then the fallback runs, until `pip install -e .` again.
        _MODULE.append(module if getattr(module, "VERSION", None) == VERSION else None)
    return _MODULE[0]
