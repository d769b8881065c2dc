"""Tokenizer: exact tokens on small texts, agreement with jieba, pickling and sklearn cloning."""

from __future__ import annotations

import logging
import pickle
import re
from pathlib import Path

import pytest

from classifier.text import tokenize as tk
from classifier.labels.taxonomy import codebook_tokenizer, default_terms
from classifier.text.normalize import collapse_optional_chars, normalize_term
from classifier.text.normalize import fold as normalize_for_features
from classifier.text.tokenize import DOMAIN_TERM_FREQ, Tokenizer


def tokenize(text: str) -> list[str]:
    return codebook_tokenizer()(text)

TERMS = ("妨害国（边）境管理", "口岸", "集群战役", "獴猎", "蛇头", "挂牌督办", "物防技防人防")
SEED_ZH = Path(__file__).resolve().parents[2] / "seeds" / "001_4fc425b8d83a2046.txt"


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return Tokenizer(TERMS)


@pytest.fixture(scope="module")
def jieba_with_terms(tok: Tokenizer):
    """Python jieba with the same user words, added as jieba users do."""
    jieba = pytest.importorskip("jieba")
    jieba.setLogLevel(logging.WARNING)
    jt = jieba.Tokenizer()
    jt.initialize()
    for word in tok.user_words:
        jt.add_word(word, DOMAIN_TERM_FREQ)
    return jt


# --- normalisation -------------------------------------------------------------------------------


def test_normalize_folds_width_script_and_case() -> None:
    assert normalize_for_features("ＡＢＣ１２３（边）") == "abc123(边)"
    assert normalize_for_features("國家移民管理局") == "国家移民管理局"
    assert normalize_for_features("The NIA") == "the nia"
    assert normalize_for_features("") == ""
    # the fast path agrees with the real NFKC on what it does not know (ligature, circled digit)
    assert normalize_for_features("ﬁ①，…") == "fi1,..."


def test_normalize_term_collapses_optional_character() -> None:
    assert normalize_term("妨害国（边）境管理") == "妨害国边境管理"
    assert normalize_term(" 妨害國(邊)境管理 ") == "妨害国边境管理"
    assert Tokenizer(("妨害国（边）境管理", "12367", "口")).user_words == ("妨害国边境管理",)


# --- exact tokens --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("打击妨害国(边)境管理犯罪", ["打击", "妨害国边境管理", "犯罪"]),
        ("打击妨害国（边）境管理犯罪", ["打击", "妨害国边境管理", "犯罪"]),
        ("打击妨害国边境管理犯罪", ["打击", "妨害国边境管理", "犯罪"]),
        ("开展集群战役，对重特大案件实施挂牌督办", ["开展", "集群战役", "对重", "特大案件", "实施", "挂牌督办"]),
        ("“獴猎”行动抓获蛇头", ["獴猎", "行动", "抓获", "蛇头"]),
        ("加强口岸精准查缉", ["加强", "口岸", "精准", "查缉"]),
        ("充分发挥物防技防人防作用", ["充分发挥", "物防技防人防", "作用"]),
    ],
)
def test_simplified_domain_terms_stay_whole(
    tok: Tokenizer, text: str, expected: list[str]
) -> None:
    assert tok(text) == expected


def test_domain_terms_are_what_keeps_them_whole() -> None:
    assert Tokenizer()("“獴猎”行动") == ["獴", "猎", "行动"]
    assert Tokenizer(("獴猎",))("“獴猎”行动") == ["獴猎", "行动"]


@pytest.mark.parametrize(
    ("traditional", "simplified"),
    [
        ("國家移民管理局", "国家移民管理局"),
        ("打擊妨害國（邊）境管理犯罪", "打击妨害国（边）境管理犯罪"),
        ("加強口岸精準查緝，抓獲蛇頭", "加强口岸精准查缉，抓获蛇头"),
    ],
)
def test_traditional_gives_the_simplified_tokens(
    tok: Tokenizer, traditional: str, simplified: str
) -> None:
    assert tok(traditional) == tok(simplified)
    assert tok("國家移民管理局") == ["国家", "移民", "管理局"]


def test_english_words_possessives_hyphens_numbers(tok: Tokenizer) -> None:
    text = "The Ministry's anti-smuggling patrols arrested 1,461 suspects in 2024, up 3.5% on 2023"
    assert tok(text) == [
        "the", "ministry", "anti-smuggling", "patrol", "arrested", "<num>", "suspect",
        "in", "<year>", "up", "<num>", "on", "<year>",
    ]
    assert tok("Don’t e-mail the officers’ O’Brien") == [
        "don't", "e-mail", "the", "officer", "o'brien",
    ]
    assert tok("1900 1899 2099 2100 42") == ["<year>", "<num>", "<year>", "<num>", "<num>"]


def test_full_width_ascii(tok: Tokenizer) -> None:
    assert tok("ＡＢＣ１２３") == ["abc123"]
    assert tok("ＡＢＣ　１２３") == ["abc", "<num>"]


def test_mixed_text_keeps_order(tok: Tokenizer) -> None:
    assert tok("NIA 开展“獴猎”行动 in 2024") == ["nia", "开展", "獴猎", "行动", "in", "<year>"]
    assert tok("截至2024年7月，抓获1,461名嫌疑人(suspects)") == [
        "截至", "<year>", "年", "<num>", "月", "抓获", "<num>", "名", "嫌疑人", "suspect",
    ]


def test_rare_ideographs_are_single_tokens_and_symbols_dropped(tok: Tokenizer) -> None:
    assert tok("二〇二四年") == ["二", "〇", "二", "四年"]
    assert tok("㐀字 ★ \ue000 😀 口岸") == ["㐀", "字", "口岸"]


@pytest.mark.parametrize("text", ["", "   ", "。，！", "\n\t"])
def test_empty_and_punctuation_only(tok: Tokenizer, text: str) -> None:
    assert tok(text) == []


def test_plural_stemming_is_on_by_default_and_optional() -> None:
    text = "Patrols and inspections: policies, crimes, status, process, news, its"
    assert Tokenizer()(text) == [
        "patrol", "and", "inspection", "policy", "crime", "status", "process", "new", "its",
    ]
    assert Tokenizer(stem=False)(text) == [
        "patrols", "and", "inspections", "policies", "crimes", "status", "process", "news", "its",
    ]
    assert Tokenizer()("巡逻 patrols 2024s") == ["巡逻", "patrol", "<year>", "s"]


def test_placeholder_path_equals_one_run_at_a_time(tok: Tokenizer) -> None:
    for text in ["NIA 开展“獴猎”行动 in 2024", "截至2024年7月，抓获1,461名 suspects’ 蛇头", "a1-b2 中文 x.y 3.5%中"]:
        normal = collapse_optional_chars(normalize_for_features(text))
        assert tok(text) == tok._one_run_at_a_time(normal)


def test_more_words_than_placeholders(tok: Tokenizer) -> None:
    text = "口岸 " + "word " * (tk._PLACEHOLDERS + 10) + "口岸"
    tokens = tok(text)
    assert tokens[0] == tokens[-1] == "口岸"
    assert len(tokens) == tk._PLACEHOLDERS + 12


# --- the fast segmenter is jieba -----------------------------------------------------------------


def _seed_sentences() -> list[str]:
    text = SEED_ZH.read_text(encoding="utf-8")
    sentences = [s for s in re.split(r"[。！？\n]", text) if re.search("[\u4e00-\u9fd5]", s)]
    return sentences[::4]


def test_segmenter_agrees_with_jieba_on_seed_sentences(tok: Tokenizer, jieba_with_terms) -> None:
    sentences = _seed_sentences()
    assert len(sentences) >= 10
    for sentence in sentences:
        normal = collapse_optional_chars(normalize_for_features(sentence))
        for run in re.findall("[\u4e00-\u9fd5]+", normal):
            assert tok.cut_han(run) == jieba_with_terms.lcut(run, HMM=True), run


def test_segmenter_agrees_with_jieba_on_unknown_words(tok: Tokenizer, jieba_with_terms) -> None:
    # character runs outside the dictionary are segmented by the HMM in both
    for run in ["獴猎行动中缅老泰湄公河", "龘靐齉爩鱻麤", "张三李四王五赵六打击蛇头", "依法严惩偷越国境者"]:
        assert tok.cut_han(run) == jieba_with_terms.lcut(run, HMM=True), run


def test_jieba_fallback_segmenter_gives_the_same_tokens(tok: Tokenizer) -> None:
    pytest.importorskip("jieba")
    fallback = Tokenizer(TERMS)
    seg = tk._JiebaSegmenter()
    for word in fallback.user_words:
        seg.add_word(word, DOMAIN_TERM_FREQ, None)
    fallback._seg = seg
    for sentence in _seed_sentences():
        assert fallback(sentence) == tok(sentence), sentence


# --- pickling and scikit-learn -------------------------------------------------------------------


def test_pickle_round_trip_without_the_segmenter(tok: Tokenizer) -> None:
    tok("口岸")  # builds the segmenter
    data = pickle.dumps(tok)
    assert len(data) < 2_000  # parameters only, not the 40 MB dictionary
    copy = pickle.loads(data)
    assert copy == tok and hash(copy) == hash(tok) and repr(copy) == repr(tok)
    assert copy._seg is None
    assert copy("开展“獴猎”行动") == tok("开展“獴猎”行动") == ["开展", "獴猎", "行动"]


def test_repr_eq_and_params() -> None:
    assert repr(Tokenizer()) == "Tokenizer()"
    assert repr(Tokenizer(("口岸",), stem=False)) == "Tokenizer(terms=('口岸',), stem=False)"
    assert Tokenizer(["口岸"]) == Tokenizer(("口岸",)) != Tokenizer(("口岸",), stem=False)
    tok = Tokenizer(("口岸",))
    assert tok.get_params() == {"terms": ("口岸",), "stem": True}
    assert tok.set_params(stem=False) is tok and not tok.stem
    with pytest.raises(ValueError, match="no parameter"):
        tok.set_params(lowercase=True)


def test_sklearn_clone_and_pickle_of_a_vectorizer(tok: Tokenizer) -> None:
    from sklearn.base import clone
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = ["NIA 开展“獴猎”行动 in 2024", "加強口岸精準查緝", "Border patrols at the port", "集群战役"]
    vec = TfidfVectorizer(tokenizer=tok, token_pattern=None, lowercase=False, ngram_range=(1, 2))
    twin = clone(vec)
    assert twin.get_params()["tokenizer"] == tok
    assert twin.get_params()["tokenizer__stem"] is True
    twin.set_params(tokenizer__stem=False)
    assert not twin.tokenizer.stem and tok.stem
    matrix = vec.fit_transform(docs)
    assert "獴猎 行动" in vec.vocabulary_ and "口岸" in vec.vocabulary_
    restored = pickle.loads(pickle.dumps(vec))
    assert (restored.transform(docs) != matrix).nnz == 0

    plain = TfidfVectorizer(tokenizer=tokenize, token_pattern=None, lowercase=False)
    assert pickle.loads(pickle.dumps(plain)).tokenizer is tokenize


def test_module_level_tokenize_uses_the_codebook_terms() -> None:
    terms = default_terms()
    assert isinstance(terms, tuple)
    assert tokenize("") == []
    assert tokenize("国家移民管理局 NIA") == ["国家", "移民", "管理局", "nia"]
    if "獴猎" in terms:
        assert tokenize("开展“獴猎”行动") == ["开展", "獴猎", "行动"]


def test_the_ascii_token_pattern_is_the_unicode_one_on_ascii_text() -> None:
    """`_word_tokens` uses a faster pattern on pure-ASCII text; it must find the same tokens."""
    import random

    from classifier.text.tokenize import _ASCII_WORD_TOKEN, _WORD_TOKEN

    rng = random.Random(5)
    alphabet = "abS's'-.,0123 %x_Z\t!?()"
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 16)))
        assert _ASCII_WORD_TOKEN.findall(text) == _WORD_TOKEN.findall(text), text
