"""The batch path scores exactly like the per-paragraph path, on adversarial text.

The reference is `ServingModel.predict_proba_folded` over `normalize.fold` of each paragraph (the
path `classify.score_paragraphs` takes); the batch path is `BatchScorer` over
`normalize.fold_many`, with `language.detect_languages` and `ConceptMatcher.concept_ids_many`.
Probabilities are asserted to 1e-9 (they are in fact equal bit for bit). Every test runs twice:
with the compiled inner loops (`classifier.text._scan`, skipped when it is not built) and with
their pure-Python fallback (`PMC_PURE_PYTHON=1`, as on a machine without a compiler).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from classifier.scoring.batch import BatchScorer
from classifier.text import scan
from classifier.scoring.serving import ServingModel
from classifier.text.language import detect_language, detect_languages
from classifier.text.normalize import fold, fold_many

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["compiled", "fallback"], autouse=True)
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test on both paths: the compiled inner loops and the pure-Python fallback."""
    if request.param == "fallback":
        monkeypatch.setenv(scan.PURE_PYTHON_VARIABLE, "1")
    else:
        monkeypatch.delenv(scan.PURE_PYTHON_VARIABLE, raising=False)
        if scan.compiled() is None:
            pytest.skip("classifier.text._scan is not built (no compiler at install time)")
    return request.param


@pytest.fixture(scope="module")
def shipped() -> ServingModel:
    return ServingModel.load(ROOT / "models" / "shipped")


def _terms(model: ServingModel) -> list[str]:
    lexicon = next(b.lexicon for b in model.blocks if hasattr(b, "lexicon"))
    return sorted({term for _key, terms in lexicon for term in terms})


def adversarial(model: ServingModel) -> list[str]:
    """Full-width, Traditional, mixed scripts, emoji, combining marks, numbers with separators,
    codebook terms at the edges of texts and glued together, separators pmc uses internally."""
    import opencc

    to_traditional = opencc.OpenCC("s2t")
    texts = [
        "ＡＢＣ　边检站１２３，４５６．７８９％，ＰＯＲＴ　ＯＦ　ＥＮＴＲＹ！",
        "邊檢站加強口岸查緝，嚴防偷渡人員闖關出境。國（邊）境管理",
        "Border police 边防 patrol 口岸 port of entry, 出入境 checks; ports of entry.",
        "🚓 边境巡逻 👮‍♀️ patrol 🇨🇳 smuggling 走私🙂",
        "cafe\u0301 port of entry\u0301 e\u0301migration 口\u0300岸 n\u0303 ﬁ ﬀ",
        "1,461 persons, 3.5% up, 2024年, 12.345.678 and 1.4万 人; ２０２３年 1,000,000",
        "BORDER PATROL AT THE PORT OF ENTRY", "support report passport", "patrols patrolled patrolling",
        "", " ", "。", "\n\t", "a", "口", "〇㐀𠀀𪚥", "国(边)境 妨害国（边）境管理 国边境",
        "口岸\x00边境\x01走私\x02偷渡\ue000\uf8ff", "line one 口岸\nline two 邊境\n第三行",
        "The nation's border, don't cross; it's the port's gate — “quotes” ‘single’",
        "x" * 700 + " 口岸 " + "境" * 300,
        "繁體" * 150 + "简体" * 200,
        " ".join(f"a{i}" for i in range(7000)) + " 口岸检查",  # more word tokens than placeholders
        "\u3000\u00a0\u2003边检\u200b站\ufeff口岸\u00ad检查",
        "İstanbul ΣΟΦΙΑ ﬆ ǅ ß Straße 口岸",
    ]
    terms = _terms(model)
    rng = random.Random(12)
    for term in terms:
        texts += [term, f"{term}x", f"x{term}", f"{term}s", f" {term}."]
    for _ in range(200):
        a, b = rng.choice(terms), rng.choice(terms)
        texts += [a + b, a + " " + b, to_traditional.convert(a + "的" + b)]
    alphabet = "口岸边境走私偷渡出入检查站国()（）portfenrysabl0123 ,.'-\n\t%々〇㐀🙂é\u0301ＡＰ"
    for _ in range(300):
        texts.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40))))
    return texts


def test_fold_many_is_fold_of_each(shipped: ServingModel) -> None:
    texts = adversarial(shipped)
    assert fold_many(texts) == [fold(t) for t in texts]


def test_detect_languages_is_detect_language_of_each(shipped: ServingModel) -> None:
    texts = adversarial(shipped)
    folded = [fold(t) for t in texts]
    assert detect_languages(texts, folded) == [detect_language(t, folded=f) for t, f in zip(texts, folded)]


def test_concept_ids_many_is_concept_ids_of_each(shipped: ServingModel) -> None:
    texts = adversarial(shipped)
    folded = [fold(t) for t in texts]
    matcher = shipped.concept_matcher()
    assert matcher.concept_ids_many(folded) == [matcher.concept_ids(f) for f in folded]
    assert matcher.concept_ids_many([]) == []


def test_batch_probabilities_equal_the_per_paragraph_path(shipped: ServingModel, path: str) -> None:
    texts = adversarial(shipped)
    # Rows of a sparse product do not depend on each other: a few paragraphs one by one, the
    # rest in one call, all through the per-paragraph path's code.
    reference = shipped.predict_proba_folded([fold(t) for t in texts])
    for i in range(0, len(texts), 211):
        assert np.array_equal(shipped.predict_proba_folded([fold(texts[i])])[0], reference[i])
    scorer = BatchScorer(shipped)
    assert (scorer.native is not None) == (path == "compiled")
    batch = scorer.probabilities(fold_many(texts))
    assert batch.shape == reference.shape
    np.testing.assert_allclose(batch, reference, rtol=0, atol=1e-9)
    assert np.array_equal(batch, reference)  # in fact bit for bit
    # and independent of how the texts are cut into batches
    pieces = np.vstack([scorer.probabilities(fold_many(texts[i: i + 397])) for i in range(0, len(texts), 397)])
    assert np.array_equal(pieces, reference)


def test_other_block_kinds_score_the_same(tmp_path: Path) -> None:
    """Subwords, stemming, word trigrams (the text-by-text fallback) and binary concepts."""
    from classifier.labels.taxonomy import load_taxonomy
    from classifier.model.evaluation import label_matrix
    from classifier.training import make_model
    from conftest import small_gold

    taxonomy = load_taxonomy()
    rows = small_gold()
    model = make_model(taxonomy, use_subwords=True, stem=True, word_ngrams=(1, 3), calibrate=False,
                       tune_thresholds=False).fit([r.text for r in rows], label_matrix(rows, taxonomy.label_ids),
                                                  groups=[r.split_group for r in rows])
    serving = ServingModel.from_classifier(model)
    texts = adversarial(serving)[:400] + [r.text for r in rows]
    reference = serving.predict_proba_folded([fold(t) for t in texts])
    np.testing.assert_allclose(BatchScorer(serving).probabilities(fold_many(texts)), reference, rtol=0, atol=1e-9)


def test_the_fallback_runs_when_the_extension_is_absent(shipped: ServingModel, path: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without `_scan` (no compiler when pmc was installed) the batch path runs, in Python."""
    import sys

    monkeypatch.delenv(scan.PURE_PYTHON_VARIABLE, raising=False)
    monkeypatch.setitem(sys.modules, "classifier.text._scan", None)  # `import` raises ImportError
    monkeypatch.setattr(scan, "_MODULE", [])
    assert scan.compiled() is None
    scorer = BatchScorer(shipped)
    assert scorer.native is None
    texts = adversarial(shipped)[:300]
    matcher = shipped.concept_matcher()
    folded = [fold(t) for t in texts]
    assert matcher.concept_ids_many(folded) == [matcher.concept_ids(f) for f in folded]
    assert np.array_equal(scorer.probabilities(fold_many(texts)), shipped.predict_proba_folded(folded))


@pytest.mark.parametrize("stem", [True, False])
def test_compiled_ascii_words_are_the_tokenizers(path: str, stem: bool) -> None:
    """The compiled table tokenises pure-ASCII text itself: every token and every pair of
    neighbours it finds is the reference tokenizer's (each token its own code here)."""
    if path != "compiled":
        pytest.skip("the compiled path only")
    from classifier.text.tokenize import Tokenizer

    rng = random.Random(5)
    pieces = ["port", "ports", "policies", "series", "bus", "glass", "days", "plays", "ties", "pies", "ss", "us",
              "don't", "nation's", "it's", "o'neil", "rock'n'roll", "x's_y", "'s", "s'", "anti-smuggling",
              "-a", "a-", "a--b", "1,461", "3.5%", "2024", "1999", "2100", "19.5", "1,99", "200%", "1.2.3",
              "12-abc", "3rd", "a1b2", "_", "__x", "'", "-", ".", ",", "%", " ", "\n", "\t", "A", "Z", "ABCs",
              "x'", "'x", "a'b'c", "9'a", "s", "ies", "eies", "aies", "cies"]
    texts = ["", " ", "a", "0", "nation's border", "The nation's 1,461 ports-of-entry don't close; it's 2024."]
    for _ in range(3000):
        texts.append("".join(rng.choice(pieces) + rng.choice(["", " ", "", "'", "-", ",", "."])
                             for _ in range(rng.randrange(1, 12))))
    tokenizer = Tokenizer(stem=stem)
    tokens = [tokenizer.tokens_folded(t) for t in texts]
    assert all(t.isascii() for t in texts)
    known = sorted({t for ts in tokens for t in ts})
    code = {t: i for i, t in enumerate(known)}
    pairs = sorted({code[a] * len(known) + code[b] for ts in tokens for a, b in zip(ts, ts[1:])})
    pair_keys = np.array(pairs, dtype=np.int64)
    pair_columns = np.arange(len(pairs), dtype=np.int64) + len(known)
    table = scan.compiled().Vocabulary(known, list(range(len(known))))
    for text, expected in zip(texts, tokens):
        from_text = table.word_grams([text], pair_keys, pair_columns, len(known), True, stem)
        from_tokens = table.word_grams([expected], pair_keys, pair_columns, len(known), True, stem)
        assert from_text == from_tokens, (text, expected)
        got = np.frombuffer(from_text[1], dtype=np.int32)
        assert [known[c] for c in got if c < len(known)] == expected, text


def test_a_stale_build_of_the_extension_is_not_used(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `_scan` built from another version of the source (an editable install not rebuilt) is
    ignored: the fallback runs instead of failing on a missing function."""
    import sys
    import types

    monkeypatch.delenv(scan.PURE_PYTHON_VARIABLE, raising=False)
    stale = types.ModuleType("classifier.text._scan")
    stale.VERSION = scan.VERSION - 1
    monkeypatch.setitem(sys.modules, "classifier.text._scan", stale)
    monkeypatch.setattr(scan, "_MODULE", [])
    assert scan.compiled() is None
