"""Script and language of a paragraph, and Traditional-to-Simplified Chinese conversion.

`detect_language()` tells `zh` (Simplified), `zh-Hant` (Traditional), `en` or `mixed` from
character counts alone: no model, no download, microseconds per paragraph. Traditional is
recognised by converting with OpenCC's `t2s` table and counting the Han characters it changes.
When the caller already folded the paragraph (`normalize.fold`, as the scoring path does),
`detect_language(text, folded=...)` reads the conversion from it instead of running OpenCC again.
`detect_languages(texts, folded)` is the same for a batch, counting characters with numpy over
the whole batch at once (the batch path of `pmc classify`); both decide through `_decide`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

from .normalize import to_simplified

__all__ = ["LANGS", "detect_language", "detect_languages", "normalize_lang"]

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
    return _decide(han, latin, lambda: _is_traditional(text, han, folded if aligned else None))


def _decide(han: int, latin: int, traditional: Callable[[], bool]) -> str:
    """The language from the sample's Han and Latin letter counts (`traditional` asked last)."""
    weighted_han = han * _HAN_WEIGHT
    total = weighted_han + latin
    if total == 0:
        return "en" if not han else "zh"
    share = weighted_han / total
    if share < 1 - _PURE:
        return "en"
    if share < _PURE:
        return "mixed"
    return "zh-Hant" if traditional() else "zh"


def _codes(texts: Sequence[str]) -> np.ndarray:
    """Code points of texts joined by NUL (one per character, as Python indexes them)."""
    return np.frombuffer("\x00".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _in_ranges(codes: np.ndarray, ranges: tuple[tuple[int, int], ...]) -> np.ndarray:
    mask = np.zeros(len(codes), dtype=bool)
    for lo, hi in ranges:
        mask |= (codes >= lo) & (codes <= hi)
    return mask


_HAN_CODES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))  # = _HAN_RUNS
_LATIN_CODES = ((0x41, 0x5A), (0x61, 0x7A), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))  # = _LATIN_RUNS


def detect_languages(texts: Sequence[str], folded: Sequence[str]) -> list[str]:
    """`[detect_language(t, folded=f) for t, f in zip(texts, folded)]`, counted for the batch at once."""
    samples = [t[:_SAMPLE] for t in texts]
    codes = _codes(samples)
    starts = np.zeros(len(samples), dtype=np.int64)
    if samples:
        starts[1:] = np.cumsum([len(t) + 1 for t in samples[:-1]])
    lengths = np.fromiter(map(len, samples), dtype=np.int64, count=len(samples))
    han_cum = np.concatenate(([0], np.cumsum(_in_ranges(codes, _HAN_CODES))))
    latin_cum = np.concatenate(([0], np.cumsum(_in_ranges(codes, _LATIN_CODES))))
    han = (han_cum[starts + lengths] - han_cum[starts]).tolist()
    latin = (latin_cum[starts + lengths] - latin_cum[starts]).tolist()
    head = np.minimum(lengths, _TRADITIONAL_SAMPLE)
    han_head = (han_cum[starts + head] - han_cum[starts]).tolist()
    aligned = [len(f) == len(t) for t, f in zip(texts, folded)]
    changed = _changed_by_t2s([t[:_TRADITIONAL_SAMPLE] for t in samples], folded, aligned)
    out = []
    for i, text in enumerate(samples):
        def traditional(i: int = i, text: str = text) -> bool:
            if not aligned[i]:
                return _is_traditional(text, han[i], None)
            return changed[i] >= 2 and changed[i] / han_head[i] >= _TRADITIONAL_SHARE

        out.append(_decide(han[i], latin[i], traditional))
    return out


def _changed_by_t2s(heads: list[str], folded: Sequence[str], aligned: list[bool]) -> list[int]:
    """Per text, how many characters of its head the Simplified conversion changed (not NFKC or
    lower case), as `_is_traditional` counts them from an aligned folded text; 0 when not aligned."""
    pairs = [f[: len(h)] if ok else h for h, f, ok in zip(heads, folded, aligned)]
    a, b = _codes(heads), _codes(pairs)
    differ = np.flatnonzero(a != b)
    if not len(differ):
        return [0] * len(heads)
    # What NFKC + lower case alone make of each differing character, as one code point (-1
    # when it becomes several, which can never equal the one folded character).
    ordered = np.sort(a[differ])  # (np.unique would import numpy.ma: 10 ms of a cold start)
    unique = ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]
    alone = np.array([ord(x) if len(x := _fold_no_t2s(chr(c))) == 1 else -1 for c in unique.tolist()], dtype=np.int64)
    by_t2s = alone[np.searchsorted(unique, a[differ])] != b[differ]
    lengths = np.fromiter(map(len, heads), dtype=np.int64, count=len(heads))
    starts = np.cumsum(lengths + 1) - (lengths + 1)
    rows = np.searchsorted(starts, differ[by_t2s], side="right") - 1
    return np.bincount(rows, minlength=len(heads)).tolist()


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


@lru_cache(maxsize=8192)
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
