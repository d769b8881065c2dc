"""Script and language of a paragraph, and Traditional-to-Simplified Chinese conversion.

`detect_language()` tells `zh` (Simplified), `zh-Hant` (Traditional), `en` or `mixed` from
character counts alone: no model, no download, microseconds per paragraph. Traditional is
recognised by converting with OpenCC's `t2s` table and counting the Han characters it changes.
When the caller already folded the paragraph (`normalize.fold`, as the scoring path does),
`detect_language(text, folded=...)` reads the conversion from it instead of running OpenCC again.
"""

from __future__ import annotations

import re
import unicodedata

from .normalize import to_simplified

__all__ = ["LANGS", "detect_language", "normalize_lang"]

LANGS = ("zh", "zh-Hant", "en", "mixed")

# Counting runs, not single characters, keeps findall's list short (twice as fast).
_HAN_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LATIN_RUNS = re.compile(r"[A-Za-z\uff21-\uff3a\uff41-\uff5a]+")

# One Han character carries roughly as much text as two Latin letters; this weight makes a
# 50/50 bilingual paragraph land in "mixed" rather than in whichever script is denser.
_HAN_WEIGHT = 2.0
_PURE = 0.8  # share of weighted script characters above which a paragraph is single-language
_TRADITIONAL_SHARE = 0.04


_TRADITIONAL_SAMPLE = 200  # characters converted to tell Traditional from Simplified
_SAMPLE = 600  # characters looked at: the script mix of a paragraph shows in its first lines


def detect_language(text: str, *, folded: str | None = None) -> str:
    """Return `zh`, `zh-Hant`, `en` or `mixed` for a paragraph (`en` when there are no letters).

    `folded`: `normalize.fold(text)` when the caller has it (saves a conversion).
    """
    aligned = folded is not None and len(folded) == len(text)
    text = text[:_SAMPLE]
    han = sum(map(len, _HAN_RUNS.findall(text)))
    latin = sum(map(len, _LATIN_RUNS.findall(text)))
    weighted_han = han * _HAN_WEIGHT
    total = weighted_han + latin
    if total == 0:
        return "en" if not han else "zh"
    share = weighted_han / total
    if share < 1 - _PURE:
        return "en"
    if share < _PURE:
        return "mixed"
    return "zh-Hant" if _is_traditional(text, han, folded if aligned else None) else "zh"


def _is_traditional(text: str, han: int, folded: str | None) -> bool:
    if len(text) > _TRADITIONAL_SAMPLE:
        text = text[:_TRADITIONAL_SAMPLE]
        han = sum(map(len, _HAN_RUNS.findall(text)))
    if folded is None:
        simplified = to_simplified(text)
        if simplified == text:
            return False
        changed = sum(1 for a, b in zip(text, simplified) if a != b)
    else:
        # A character changed by the Simplified conversion, not by NFKC or lower case.
        changed = sum(1 for a, b in zip(text, folded) if a != b and _fold_no_t2s(a) != b)
    return changed >= 2 and changed / han >= _TRADITIONAL_SHARE


def _fold_no_t2s(ch: str) -> str:
    return unicodedata.normalize("NFKC", ch).lower()


def normalize_lang(value: str) -> str:
    """Accept `zh-hant`, `zh_Hant`, `ZH` … and return the canonical code from `LANGS`."""
    key = value.strip().replace("_", "-").lower()
    canonical = {code.lower(): code for code in LANGS}
    canonical.update({"zh-hans": "zh", "zh-cn": "zh", "zh-tw": "zh-Hant", "zh-hk": "zh-Hant"})
    if key not in canonical:
        raise ValueError(f"unknown language code {value!r}; expected one of {', '.join(LANGS)}")
    return canonical[key]
