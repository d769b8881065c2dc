"""jieba's main dictionary as a memory-mapped trie: which dictionary words a text contains.

jieba-rs builds its whole dictionary (349,046 words) when a segmenter is made: 0.14 s of CPU,
the biggest part of a cold `pmc classify` on one paragraph. But jieba's cut of a text depends
on the dictionary only through the words that occur inside the text (the DAG of every block
is made of them, and an unknown run is handed to the HMM when it is not one of them) and
through the dictionary's total frequency (every route's log probability subtracts its log).
So a segmenter that holds just the words a text contains, with their frequencies, plus one
entry no text can reach that brings the total to the full dictionary's, cuts that text exactly
as the full segmenter does. `tokenize` uses that for small inputs (`_GrowingSegmenter`); this
module finds the words.

The data — `jieba_dictionary.marisa`, a marisa-trie of the words (1.2 MB), and
`jieba_dictionary.npy`, their frequencies by word id (1.4 MB), both memory-mapped — is made from jieba's own `dict.txt`, the dictionary jieba-rs embeds, with

    python -m classifier.text.dictionary

and a test checks it against the installed jieba's file entry for entry. Without marisa-trie
or the data file, `load()` gives None and segmenters are built whole, as before.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["DATA_PATH", "Dictionary", "load", "source_entries", "build"]

DATA_PATH = Path(__file__).with_name("jieba_dictionary.marisa")  # and its frequencies beside it, .npy

# Stretches of a text a dictionary word can lie in: no whitespace, no control characters and no
# private-use characters (the tokenizer's placeholders), none of which any dictionary word holds.
_STRETCH = re.compile(r"[^\s\x00-\x1f\x7f\ue000-\uf8ff]+")
_LONGEST = 16  # characters of the longest word of jieba's dict.txt (checked when it is built)


class Dictionary:
    """The dictionary's words (a `marisa_trie.Trie`), their frequencies and total."""

    def __init__(self, trie: Any, frequencies: Any) -> None:
        self._trie = trie
        self._frequencies = frequencies  # by the trie's word id
        self.total = int(frequencies.sum(dtype="int64"))
        self.longest = _LONGEST
        self.size = len(self._frequencies)

    def frequency(self, word: str) -> int | None:
        """The word's dictionary frequency, None if it is not a dictionary word."""
        word_id = self._trie.get(word)
        return None if word_id is None else int(self._frequencies[word_id])

    def words_in(self, text: str) -> dict[str, int]:
        """Every dictionary word that occurs in `text` (as a substring), with its frequency.
        About 1.5 µs per character."""
        found: dict[str, int] = {}
        prefixes, frequencies, longest = self._trie.iter_prefixes_with_ids, self._frequencies, self.longest
        for stretch in _STRETCH.findall(text):
            for start in range(len(stretch)):
                for word, word_id in prefixes(stretch[start:start + longest]):
                    found[word] = int(frequencies[word_id])
        return found



def load(path: Path = DATA_PATH) -> Dictionary | None:
    """The dictionary (memory-mapped: under a millisecond), or None without marisa-trie or the
    data files."""
    try:
        import marisa_trie
        import numpy as np
    except ImportError:
        return None
    try:
        trie = marisa_trie.Trie().mmap(str(path))
        frequencies = np.load(path.with_suffix(".npy"), mmap_mode="r")
    except (OSError, ValueError, RuntimeError):  # marisa reports a missing or damaged file as RuntimeError
        return None
    if len(frequencies) != len(trie):
        return None
    return Dictionary(trie, frequencies)


def source_entries(path: Path | None = None) -> dict[str, int]:
    """word -> frequency of jieba's `dict.txt` (the installed jieba's by default), read as
    jieba-rs reads it: whitespace-separated fields, a repeated word keeps its last frequency."""
    if path is None:
        import jieba

        path = Path(jieba.__file__).with_name("dict.txt")
    entries: dict[str, int] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            if fields:
                entries[fields[0]] = int(fields[1]) if len(fields) > 1 else 0
    return entries


def build(entries: dict[str, int], target: Path = DATA_PATH) -> Path:
    """Write the data file for `entries` (see `source_entries`)."""
    import marisa_trie
    import numpy as np

    longest = max(map(len, entries))
    if longest != _LONGEST:
        raise ValueError(f"the dictionary's longest word has {longest} characters; set _LONGEST to it")
    trie = marisa_trie.Trie(entries)
    frequencies = np.zeros(len(trie), dtype=np.uint32)
    for word, frequency in entries.items():
        frequencies[trie[word]] = frequency
    trie.save(str(target))
    np.save(target.with_suffix(".npy"), frequencies)
    return target


def _main(argv: Iterable[str]) -> None:
    args = list(argv)
    target = build(source_entries(Path(args[0]) if args else None))
    print(f"wrote {target}")


if __name__ == "__main__":
    _main(sys.argv[1:])
