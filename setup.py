"""Build step beside pyproject.toml (which holds all the metadata): the optional C extension.

`classifier.text._scan` holds the batch path's innermost loops (see `classifier/text/scan.py`).
It is `optional=True`: without a compiler, or if it fails to build, `pip install` still
succeeds and pmc runs the same computations in pure Python and numpy, with the same results.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("classifier.text._scan", ["classifier/text/_scan.c"], optional=True)])
