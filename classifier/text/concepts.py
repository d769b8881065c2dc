"""Codebook concepts in text: bilingual term matching with spans in the original text.

Each concept of the codebook groups Chinese and English terms (口岸 / "port of entry") that
should fire one shared feature, so what is learned in one language transfers to the other.
`ConceptMatcher` finds them in folded text (`normalize.fold`: NFKC, Traditional to Simplified,
lower case) with an Aho-Corasick automaton and maps matches back to character spans of the
original text for highlighting. The lexicon itself comes from the codebook
(`labels.taxonomy.Taxonomy.lexicon`). No scikit-learn here: the serving path imports this module.

`concept_ids_many()` is `concept_ids()` for a batch: one automaton scan over the batch's texts
joined. pyahocorasick finds a node's child by a linear scan, and the codebook gives the root
hundreds of children, so each character that starts no term cost a scan of all of them. The
batch automaton spells every character as two symbols (`_split_symbols`: its code point modulo
16, then the rest, from disjoint alphabets), so no node has more than 16 children at the first
step and few at the second. A match can only start on a first symbol and end on a second, and
every fail link of the split trie is the split of the original's, so the scan finds exactly the
same terms (a test asserts it on adversarial text). With the optional C extension
(`scan.compiled()`), the same automaton is built over code points by `_scan.Automaton`, whose
`iter_long` is pyahocorasick's step for step, children found by hashing instead of a list scan.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .normalize import fold_many, fold_with_offsets
from .scan import compiled

__all__ = ["Lexicon", "ConceptMatch", "ConceptMatcher"]

Lexicon = tuple[tuple[str, tuple[str, ...]], ...]  # ((concept key, terms), ...)

_LATIN = re.compile(r"[a-z0-9]")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class ConceptMatch:
    """A concept term found in a text; `start`/`end` index the ORIGINAL text."""

    concept: str
    term: str
    start: int
    end: int


class ConceptMatcher:
    """Finds codebook terms in text. Built once per lexicon; safe to share across threads.

    Matching runs on an Aho-Corasick automaton (pyahocorasick, C): leftmost-longest,
    non-overlapping, linear in the text. English terms must start and end on word boundaries;
    their last word may carry a light inflection (patrol -> patrols, patrolled) and the other
    words a plural (ports of entry).
    """

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.keys = tuple(dict.fromkeys(key for key, _ in lexicon))
        self._index = {key: i for i, key in enumerate(self.keys)}
        self._term_concepts: dict[str, tuple[int, ...]] = {}
        pairs = [(key, term) for key, terms in lexicon for term in terms]
        for (key, _term), folded in zip(pairs, fold_many([term for _, term in pairs])):  # one OpenCC call
            norm = _SPACE.sub(" ", folded).strip()
            if norm:
                found = set(self._term_concepts.get(norm, ())) | {self._index[key]}
                self._term_concepts[norm] = tuple(sorted(found))

    @cached_property
    def _automaton(self):  # noqa: ANN202 - ahocorasick.Automaton has no type stubs
        import ahocorasick

        automaton = ahocorasick.Automaton()
        for term in self._term_concepts:
            latin_start, latin_end = bool(_LATIN.match(term[0])), bool(_LATIN.match(term[-1]))
            for variant in _variants(term):
                automaton.add_word(variant, (len(variant), term, latin_start, latin_end))
        automaton.make_automaton()
        return automaton

    def _matches(self, text: str) -> Iterator[tuple[int, int, str]]:
        if not self._term_concepts:
            return
        length = len(text)
        # A trailing sentinel: pyahocorasick's iter_long drops a match that ends the text when
        # it is also the prefix of a longer term ("criminal suspect" vs "criminal suspects").
        for last, (size, term, latin_start, latin_end) in self._automaton.iter_long(text + "\x00"):
            start, end = last - size + 1, last + 1
            if latin_start and start and _LATIN.match(text[start - 1]):
                continue  # inside a longer word: "port" in "support"
            if latin_end:
                stop = end
                while stop < length and _LATIN.match(text[stop]):
                    stop += 1
                if stop > end and text[end:stop] not in _SUFFIXES:
                    continue
                end = stop
            yield start, end, term

    def concept_ids(self, folded: str) -> list[int]:
        """Indices (into `keys`) of every concept hit in text folded by `normalize.fold`, with repeats."""
        if "  " in folded or "\n" in folded or "\t" in folded:
            folded = _SPACE.sub(" ", folded)
        out: list[int] = []
        for _start, _end, term in self._matches(folded):
            out.extend(self._term_concepts[term])
        return out

    @cached_property
    def _batch_words(self) -> list[tuple[str, int]]:
        """Every variant of every term with the term's number, in the order they are added."""
        return [(variant, number) for number, term in enumerate(self._term_concepts) for variant in _variants(term)]

    @cached_property
    def _batch_automaton(self) -> Any:
        """The automaton of `_automaton` over `_split_symbols` of the terms; a match's value is
        (the term's number, the variant's length)."""
        import ahocorasick

        words = self._batch_words
        split = _split_symbols("".join(variant for variant, _ in words))
        automaton = ahocorasick.Automaton()
        at = 0
        for variant, number in words:
            automaton.add_word(split[at: at + 2 * len(variant)], (number, len(variant)))
            at += 2 * len(variant)
        automaton.make_automaton()
        return automaton

    @cached_property
    def _compiled_automaton(self) -> tuple[Any, Any, Any]:
        """`_automaton` as a `_scan.Automaton` over code points (a match's value is the variant's
        index), with each variant's term number and length."""
        import numpy as np

        module = compiled()
        assert module is not None
        words = self._batch_words
        return (module.Automaton([variant for variant, _ in words]),
                np.array([number for _, number in words], dtype=np.int64),
                np.array([len(variant) for variant, _ in words], dtype=np.int64))

    def _scan_split(self, codes: Any) -> tuple[Any, Any, Any]:
        """(term number, end, start) of every `iter_long` match in the joined text's code points,
        through pyahocorasick over the split symbols."""
        import numpy as np

        found = list(self._batch_automaton.iter_long(_split_codes(codes)))
        if not found:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        lasts, values = zip(*found)
        numbers, sizes = zip(*values)
        end = np.array(lasts, dtype=np.int64) // 2 + 1
        return np.array(numbers, dtype=np.int64), end, end - np.array(sizes, dtype=np.int64)

    def _scan_compiled(self, text: str) -> tuple[Any, Any, Any]:
        """The same as `_scan_split`, through the compiled automaton over code points."""
        import numpy as np

        automaton, numbers, sizes = self._compiled_automaton
        lasts, indices = automaton.iter_long(text)
        index = np.frombuffer(indices, dtype=np.int32)
        end = np.frombuffer(lasts, dtype=np.int64) + 1
        return numbers[index], end, end - sizes[index]

    @cached_property
    def _batch_table(self) -> dict[str, Any]:
        """Per term number: Latin edges and concept ids (CSR)."""
        import numpy as np

        terms = list(self._term_concepts)
        concepts = [self._term_concepts[term] for term in terms]
        return {
            "latin_start": np.array([bool(_LATIN.match(t[0])) for t in terms], dtype=bool),
            "latin_end": np.array([bool(_LATIN.match(t[-1])) for t in terms], dtype=bool),
            "count": np.array([len(c) for c in concepts], dtype=np.int64),
            "offset": np.cumsum([0] + [len(c) for c in concepts])[:-1].astype(np.int64),
            "concepts": np.array([i for c in concepts for i in c], dtype=np.int64),
        }

    def concept_hits(self, folded_texts: Sequence[str]) -> tuple[Any, Any]:
        """Every concept hit of `concept_ids` in a batch, in one scan: (row of each hit, its
        concept's index), rows ascending and in match order within a row, as numpy arrays."""
        import numpy as np

        empty = np.zeros(0, dtype=np.int64)
        if not self._term_concepts or not folded_texts:
            return empty, empty
        table = self._batch_table
        pieces = [_SPACE.sub(" ", t) if "  " in t or "\n" in t or "\t" in t else t for t in folded_texts]
        lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
        starts = np.cumsum(lengths + 1) - (lengths + 1)
        # The sentinel after each text: no term holds it, so the scan starts afresh on the next.
        text = "\x00".join(pieces) + "\x00"
        codes = _codes(text)
        number, end, start = self._scan_compiled(text) if compiled() is not None else self._scan_split(codes)
        if not len(number):
            return empty, empty
        # English terms start and end on word edges (see `_matches`), checked for all at once:
        # no [a-z0-9] right before; after, the run of [a-z0-9] must be empty or a known suffix.
        latin = ((codes >= 0x61) & (codes <= 0x7A)) | ((codes >= 0x30) & (codes <= 0x39))
        keep = ~(table["latin_start"][number] & latin[start - 1])  # text[-1] is the last sentinel
        other = np.flatnonzero(~latin)
        stop = other[np.searchsorted(other, end)]  # the first non-Latin character at or after `end`
        tail = table["latin_end"][number] & (stop > end)
        keep &= ~(tail & (stop - end > _LONGEST_SUFFIX))
        for k in np.flatnonzero(tail & keep).tolist():
            if text[end[k]: stop[k]] not in _SUFFIXES:
                keep[k] = False
        number, start = number[keep], start[keep]
        rows = np.searchsorted(starts, start, side="right") - 1
        counts = table["count"][number]
        first = np.repeat(table["offset"][number], counts)
        within = np.arange(len(first)) - np.repeat(np.cumsum(counts) - counts, counts)
        return np.repeat(rows, counts), table["concepts"][first + within]

    def concept_ids_many(self, folded_texts: Sequence[str]) -> list[list[int]]:
        """`[self.concept_ids(t) for t in folded_texts]`, in one scan of the batch."""
        rows, ids = self.concept_hits(folded_texts)
        out: list[list[int]] = [[] for _ in folded_texts]
        for row, index in zip(rows.tolist(), ids.tolist()):
            out[row].append(index)
        return out

    def find(self, text: str, *, folded: tuple[str, Sequence[int]] | None = None) -> list[ConceptMatch]:
        """Every concept term in `text`, with spans in the original (un-normalised) text.

        `folded`: `normalize.fold_with_offsets(text)` when the caller has it already.
        """
        folded_text, offsets = folded if folded is not None else fold_with_offsets(text)
        collapsed, offsets = _collapse_spaces(folded_text, offsets)
        matches = []
        for start, end, term in self._matches(collapsed):
            a, b = offsets[start], offsets[end - 1] + 1
            for index in self._term_concepts[term]:
                matches.append(ConceptMatch(self.keys[index], text[a:b], a, b))
        return matches

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_automaton", None)  # rebuilt on first use after unpickling
        for name in ("_batch_words", "_batch_automaton", "_compiled_automaton", "_batch_table"):
            state.pop(name, None)
        return state


def _codes(text: str) -> Any:
    import numpy as np

    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _split_symbols(text: str) -> str:
    """Each character as two: U+0001 + (code point mod 16), then U+0100 + (code point div 16)."""
    return _split_codes(_codes(text))


def _split_codes(codes: Any) -> str:
    import numpy as np

    pairs = np.empty(2 * len(codes), dtype=np.uint32)
    pairs[0::2] = 0x1 + (codes & 0xF)
    pairs[1::2] = 0x100 + (codes >> 4)
    return pairs.tobytes().decode("utf-32-le", "surrogatepass")

_SUFFIXES = frozenset({"s", "es", "ed", "d", "ing", "ings", "led", "ling", "ly"})
_LONGEST_SUFFIX = max(map(len, _SUFFIXES))


def _variants(term: str) -> list[str]:
    """The term, plus plural forms of its non-final English words ("ports of entry")."""
    words = term.split(" ")
    out = [term]
    for i, word in enumerate(words[:-1]):
        if _LATIN.match(word[-1:]):
            for suffix in ("s", "es"):
                out.append(" ".join([*words[:i], word + suffix, *words[i + 1 :]]))
    return out


def _collapse_spaces(text: str, offsets: Sequence[int]) -> tuple[str, list[int]]:
    """Whitespace runs as one space (as `concept_ids` matches), keeping each character's offset."""
    chars: list[str] = []
    kept: list[int] = []
    for ch, offset in zip(text, offsets):
        if ch.isspace():
            if chars and chars[-1] == " ":
                continue
            ch = " "
        chars.append(ch)
        kept.append(offset)
    return "".join(chars), kept
