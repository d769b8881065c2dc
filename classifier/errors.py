"""The exception hierarchy of pmc.

Library code raises these and never prints or exits; the CLI (`classifier.cli`) and the app
(`app.py`) are the only places that turn them into one-line messages. Every message says what
was expected, what was found, where (file and line when there is one) and the likely fix.
"""

from __future__ import annotations

__all__ = [
    "PmcError",
    "TaxonomyError",
    "InputError",
    "DecodeError",
    "LabelDataError",
    "ModelError",
    "StoreError",
    "EmptyPoolError",
    "StaleAnswerError",
    "AccessError",
]


class PmcError(Exception):
    """Base class of every error pmc raises on purpose."""

    exit_code: int = 1


class TaxonomyError(PmcError):
    """The codebook file is missing, malformed or inconsistent."""

    exit_code = 3


class InputError(PmcError):
    """An input document or record cannot be used (missing, binary, too large, bad JSON)."""

    exit_code = 4


class DecodeError(InputError):
    """A text file's bytes cannot be decoded in any supported encoding."""


class LabelDataError(PmcError):
    """Labelled data (gold JSONL, imports) does not match the codebook or the record schema."""

    exit_code = 5


class ModelError(PmcError):
    """A model cannot be trained, saved or loaded (missing, tampered, incompatible)."""

    exit_code = 6


class StoreError(PmcError):
    """The annotation store cannot be opened, migrated or written."""

    exit_code = 7


class EmptyPoolError(PmcError):
    """A queue was asked for paragraphs but none are left to annotate."""

    exit_code = 8


class StaleAnswerError(PmcError):
    """An answer was submitted for a rendering that is no longer the annotator's assignment
    (a repeated key, another tab, an expired claim): nothing was saved."""

    exit_code = 9


class AccessError(PmcError):
    """The signed-in person (or the named user) may not do this: unknown, disabled, or a role
    without the permission (`store.users`)."""

    exit_code = 11
