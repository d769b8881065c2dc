"""The memory-mapped jieba dictionary, and segmenters that hold only the words of their texts.

A growing segmenter must cut every text exactly as jieba-rs with its whole dictionary does,
whether it is fresh for each text, shared across many texts, or told of user words late.
"""

from __future__ import annotations

import random

import pytest

from classifier.labels.gold import load_labelled
from classifier.labels.taxonomy import codebook_tokenizer
from classifier.text import dictionary
from classifier.text import tokenize as tk
from classifier.text.normalize import collapse_optional_chars, fold

pytest.importorskip("rjieba")

ADVERSARIAL = [
    "国(边)境口岸，边检站查获B超C++ＡＢ型 2024年 蛇头",
    "的的的的的的的的的的",
    "中华人民共和国出入境管理法第十二条规定",
    "獴猎行动中缅老泰湄公河流域联合执法",
    "龘靐齉爩鱻麤 张三李四王五赵六打击蛇头",
    "边检\ue000站\ue001口岸\x01\x02口岸",  # placeholders and the unreachable entry's characters
    "",
    "   \t\n",
    "口",
]


@pytest.fixture(scope="module")
def data() -> dictionary.Dictionary:
    loaded = dictionary.load()
    assert loaded is not None, "classifier/text/jieba_dictionary.* missing: run python -m classifier.text.dictionary"
    return loaded


@pytest.fixture(scope="module")
def user_words() -> tuple[str, ...]:
    return codebook_tokenizer().user_words


@pytest.fixture(scope="module")
def full(user_words: tuple[str, ...]):
    seg = tk._jieba_rs_class()()
    for word in user_words:
        seg.add_word(word, tk.DOMAIN_TERM_FREQ, None)
    return seg


@pytest.fixture(scope="module")
def texts() -> list[str]:
    rows = [r for r in load_labelled() if r.lang != "en"]
    random.Random(0).shuffle(rows)
    return [collapse_optional_chars(fold(r.text)) for r in rows[:400]] + ADVERSARIAL


def _growing(data: dictionary.Dictionary, words: tuple[str, ...]) -> tk._GrowingSegmenter:
    seg = tk._GrowingSegmenter(tk._jieba_rs_class(), data)
    for word in words:
        seg.add_word(word, tk.DOMAIN_TERM_FREQ, None)
    return seg


def test_the_data_is_the_installed_jiebas_dict_txt(data: dictionary.Dictionary) -> None:
    entries = dictionary.source_entries()
    assert data.size == len(entries) == 349_045  # 349,046 lines, one word twice (B超)
    assert data.total == sum(entries.values()) == 60_101_964
    assert all(data.frequency(word) == frequency for word, frequency in entries.items())
    assert data.frequency("口岸") == 500 and data.frequency("獴猎") is None


def test_words_in_finds_every_dictionary_substring(data: dictionary.Dictionary) -> None:
    text = "边检站严防偷渡。\n人员 \ue000出境"
    found = data.words_in(text)
    expected = {text[i:j] for i in range(len(text)) for j in range(i + 1, len(text) + 1)
                if data.frequency(text[i:j]) is not None}
    assert set(found) == expected
    assert {"边检站", "偷渡", "出境", "人员"} <= expected
    assert found["偷渡"] == data.frequency("偷渡")


def test_a_fresh_growing_segmenter_cuts_each_text_as_the_whole_dictionary(
        data: dictionary.Dictionary, user_words: tuple[str, ...], full, texts: list[str]) -> None:
    for text in texts:
        seg = _growing(data, user_words)
        assert seg.cut(text, True) == full.cut(text, True), text
        assert seg._full is None  # it really held only this text's words


def test_a_shared_growing_segmenter_cuts_as_the_whole_dictionary_then_completes(
        data: dictionary.Dictionary, user_words: tuple[str, ...], full, texts: list[str]) -> None:
    seg = _growing(data, user_words)
    assert sum(map(len, texts)) > tk.GROWING_CHARS
    states = []
    for text in texts:
        assert seg.cut(text, True) == full.cut(text, True), text
        states.append(seg._full is not None)
    assert states[0] is False and states[-1] is True  # grew, then built the whole dictionary
    assert seg.cut(texts[0], False) == full.cut(texts[0], False)


def test_user_words_added_after_cutting_and_without_any(data: dictionary.Dictionary, user_words: tuple[str, ...],
                                                        full, texts: list[str]) -> None:
    late = _growing(data, ())
    plain = tk._jieba_rs_class()()
    for text in texts[:50]:
        assert late.cut(text, True) == plain.cut(text, True), text
    for word in user_words:  # some of them are dictionary words it holds already (口岸)
        late.add_word(word, tk.DOMAIN_TERM_FREQ, None)
    for text in texts[50:150]:
        assert late.cut(text, True) == full.cut(text, True), text


def test_complete_segmenters_builds_the_whole_dictionary(data: dictionary.Dictionary, user_words: tuple[str, ...],
                                                         full, texts: list[str]) -> None:
    seg = _growing(data, user_words)
    seg.cut(texts[0], True)
    seg.complete()
    assert seg._full is not None and seg.cut == seg._full.cut  # no wrapper left on the batch path
    seg.add_word("边检站查获", tk.DOMAIN_TERM_FREQ, None)
    full_too = tk._jieba_rs_class()()
    for word in (*user_words, "边检站查获"):
        full_too.add_word(word, tk.DOMAIN_TERM_FREQ, None)
    assert seg.cut("边检站查获偷渡人员", True) == full_too.cut("边检站查获偷渡人员", True) == ["边检站查获", "偷渡", "人员"]


def test_without_the_data_segmenters_are_built_whole(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert dictionary.load(tmp_path / "missing.marisa") is None
    (tmp_path / "damaged.marisa").write_bytes(b"not a trie")
    assert dictionary.load(tmp_path / "damaged.marisa") is None
    monkeypatch.setattr(dictionary, "DATA_PATH", tmp_path / "missing.marisa")
    monkeypatch.setattr(dictionary.load, "__defaults__", (tmp_path / "missing.marisa",))
    seg = tk._new_segmenter()
    assert not isinstance(seg, tk._GrowingSegmenter)
    assert seg.cut("边检站严防偷渡", True) == ["边检站", "严防", "偷渡"]
