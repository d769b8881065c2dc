"""Random bytes and text through the reader, the segmenter and the JSON-lines reader: nothing but
pmc's own errors ever comes out, and every paragraph has a content id and stays within bounds."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifier.errors import PmcError
from classifier.text.paragraph import paragraph_id
from classifier.text.reader import Document, iter_jsonl, read_document_bytes
from classifier.text.segmenter import MAX_PASSAGE_UNITS, segment

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SUFFIXES = st.sampled_from(["x.txt", "x.md", "x.html", "x.docx", "x.pdf", "x"])
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=3000) | st.from_regex(
    r"[0-9 .。!?<>«»‹›一二三是（）()\n]{0,400}", fullmatch=True)


@FAST
@given(data=st.binary(max_size=4000), name=SUFFIXES)
def test_random_bytes_are_read_or_refused_with_a_pmc_error(data: bytes, name: str) -> None:
    try:
        document = read_document_bytes(data, name=name)
    except PmcError:
        return
    for paragraph in segment(document):
        assert paragraph.id == paragraph_id(paragraph.text)


@FAST
@given(text=TEXT)
def test_random_text_segments_into_bounded_paragraphs(text: str) -> None:
    paragraphs = segment(Document("d", text))
    for i, paragraph in enumerate(paragraphs):
        assert paragraph.index == i and paragraph.text.strip() == paragraph.text and paragraph.text
        han = sum(1 for c in paragraph.text if "\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff")
        assert han * 2.5 + (len(paragraph.text) - han) <= MAX_PASSAGE_UNITS * 1.6


@FAST
@given(lines=st.lists(st.binary(max_size=300) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
                      max_size=20))
def test_random_jsonl_lines_yield_records_or_errors_never_exceptions(lines: list[bytes]) -> None:
    stream = io.BytesIO(b"\n".join(lines))
    for entry in iter_jsonl(stream, source="f.jsonl"):
        assert isinstance(entry, tuple) or str(entry).startswith("f.jsonl:")


class _CountingPattern:
    """A compiled regex that adds the length of every string it is asked to scan to a counter."""

    def __init__(self, pattern, counter: list[int]) -> None:  # noqa: ANN001
        self._pattern, self._counter = pattern, counter

    def __getattr__(self, name: str):  # noqa: ANN204
        method = getattr(self._pattern, name)
        if not callable(method) or name not in ("match", "fullmatch", "search", "findall", "finditer", "sub", "split"):
            return method

        def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            text = next((a for a in args if isinstance(a, str)), "")
            self._counter[0] += len(text)
            return method(*args, **kwargs)

        return counted


def _scanned(text: str, monkeypatch) -> int:  # noqa: ANN001
    import re as _re

    from classifier.text import segmenter

    counter = [0]
    with monkeypatch.context() as patch:
        for name, value in vars(segmenter).items():
            if isinstance(value, _re.Pattern):
                patch.setattr(segmenter, name, _CountingPattern(value, counter))
        segment(Document("d", text))
    return counter[0]


@pytest.mark.parametrize("unit", ["x", "word ", "." * 3000 + "x\n", "1" * 34 + "a\n", "边境管理", "边境，管理、", "Mr. A. b\n"])
def test_segmenting_work_grows_linearly_with_the_input(unit: str, monkeypatch) -> None:  # noqa: ANN001
    small = unit * (60_000 // len(unit) + 1)
    large = unit * (240_000 // len(unit) + 1)
    ratio = _scanned(large, monkeypatch) / max(_scanned(small, monkeypatch), 1)
    assert ratio < 4 * 1.25, f"characters scanned by the segmenter's patterns grew {ratio:.1f}x for 4x the input"
