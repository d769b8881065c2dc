"""Progress messages that also say how far along a job is.

Long work (training, cross-validation, scoring) reports through a plain `progress(message)`
callable, so the CLI can print it. A `Step` is such a message (a `str`) that also carries
its `stage` and `done` of `total`, so a background job (`classifier.background`) can draw a
real progress bar and stop at the next step when cancelled, without parsing text.
"""

from __future__ import annotations

__all__ = ["Step"]


class Step(str):
    """A progress message with its stage and a count: `Step("fold 2 of 5", "cv", 2, 5)`."""

    stage: str
    done: int
    total: int

    def __new__(cls, message: str, stage: str, done: int = 0, total: int = 0) -> "Step":
        step = super().__new__(cls, message)
        step.stage, step.done, step.total = stage, done, total
        return step
