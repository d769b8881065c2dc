"""Build step beside pyproject.toml (which holds all the metadata): the optional C extension.

`classifier.text._scan` holds the batch path's innermost loops (see `classifier/text/scan.py`).
It is `optional=True`: without a compiler, or if it fails to build, `pip install` still
succeeds and pmc runs the same computations in pure Python and numpy, with the same results.
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class _BuildExt(build_ext):
    """Scores must equal numpy's multiply-then-add bit for bit: no fused multiply-add."""

    def build_extensions(self) -> None:
        if self.compiler.compiler_type != "msvc":  # MSVC does not contract by default
            for extension in self.extensions:
                extension.extra_compile_args = [*extension.extra_compile_args, "-ffp-contract=off"]
        super().build_extensions()


setup(ext_modules=[Extension("classifier.text._scan", ["classifier/text/_scan.c"], optional=True)],
      cmdclass={"build_ext": _BuildExt})
