"""The paragraph: the unit that is labelled, classified and stored.

A paragraph's id is a hash of its normalised text, so the same text gets the same id in every
document, file, store and model output; `paragraph_id()` is the one place that defines it.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

from .normalize import nfkc

__all__ = ["Paragraph", "paragraph_id", "normalize_for_id"]



def normalize_for_id(text: str) -> str:
    """NFKC (full-width folded), whitespace collapsed and trimmed: what the id is computed on."""
    return " ".join(nfkc(text).split())


def paragraph_id(text: str) -> str:
    """Stable content id: the first 16 hex digits of SHA-1 over the normalised text."""
    return hashlib.sha1(normalize_for_id(text).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of a document, as produced by the segmenter or read from JSONL."""

    id: str
    doc: str
    index: int
    text: str
    lang: str
    title: str = ""
    section: str = ""
    speaker: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_record(self) -> dict[str, Any]:
        """A flat JSON-ready dict; `extra` fields carried through from the input come last."""
        record = asdict(self)
        extra = record.pop("extra")
        for optional in ("section", "speaker"):
            if not record[optional]:
                del record[optional]
        for key, value in extra.items():
            record.setdefault(key, value)
        return record
