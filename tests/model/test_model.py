"""Model: fits and predicts on a tiny fixture, is a proper scikit-learn citizen, explains itself."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from classifier.model.evaluation import KeywordBaseline, cross_validate
from classifier.scoring.explain import explain_text, highlight_spans
from classifier.text.concepts import ConceptMatcher
from classifier.labels.gold import load_labelled
from classifier.model.estimator import MeasureClassifier
from classifier.labels.taxonomy import load_taxonomy
from classifier.training import make_model

LABELS = ("port", "patrol")
LEXICON = (("port/port", ("口岸", "port of entry", "border inspection")), ("patrol/patrol", ("巡逻", "patrol")))
TEXTS = [
    "边检站加强口岸查验，严查偷渡人员。", "Officers at the port of entry checked passports.",
    "口岸边检民警查获伪造证件。", "Border inspection found forged visas at the port of entry.",
    "派出所民警沿边境线巡逻。", "Police patrol the mountain passes at night.",
    "巡逻队在渡口设卡堵截。", "A patrol boat watched the river crossing.",
    "会议强调提高政治站位。", "The meeting stressed the importance of the work.",
    "全体民警学习讲话精神。", "Officials studied the new guidelines.",
]
Y = np.array([[1, 0], [1, 0], [1, 0], [1, 0], [0, 1], [0, 1], [0, 1], [0, 1], [0, 0], [0, 0], [0, 0], [0, 0]])
GROUPS = [f"g{i // 2}" for i in range(len(TEXTS))]


@pytest.fixture(scope="module")
def tiny_model() -> MeasureClassifier:
    return MeasureClassifier(labels=LABELS, lexicon=LEXICON, inner_folds=3).fit(TEXTS, Y, groups=GROUPS)


def test_fits_and_predicts_on_a_tiny_bilingual_fixture(tiny_model: MeasureClassifier) -> None:
    probs = tiny_model.predict_proba(["口岸查验旅客证件", "Night patrol along the border line", "会议强调重要性"])
    assert probs.shape == (3, 2)
    assert probs[0, 0] > probs[0, 1] and probs[1, 1] > probs[1, 0]
    assert tiny_model.predict(["口岸查验旅客证件"]).tolist() == [[1, 0]]
    assert tiny_model.predict(["会议强调重要性"]).tolist() == [[0, 0]]  # none clears its threshold
    assert list(tiny_model.classes_) == list(LABELS)
    assert ((tiny_model.thresholds_ >= 0.1) & (tiny_model.thresholds_ <= 0.9)).all()


def test_pickles_and_clones(tiny_model: MeasureClassifier) -> None:
    restored = pickle.loads(pickle.dumps(tiny_model))
    texts = ["口岸", "patrol"]
    assert np.allclose(restored.predict_proba(texts), tiny_model.predict_proba(texts))
    fresh = clone(tiny_model)
    assert fresh.get_params()["lexicon"] == LEXICON and not hasattr(fresh, "coef_")


def test_threshold_scale_moves_decisions(tiny_model: MeasureClassifier) -> None:
    probs = tiny_model.predict_proba(TEXTS)
    assert tiny_model.decide(probs, threshold_scale=0.01).all()
    assert not tiny_model.decide(probs, threshold_scale=10).any()


def test_explanation_points_at_the_evidence_in_the_original_text(tiny_model: MeasureClassifier) -> None:
    text = "Ｐｏｒｔ ｏｆ ｅｎｔｒｙ 口岸 checks"
    from classifier.scoring.serving import ServingModel

    explanations = {e.label: e for e in explain_text(ServingModel.from_classifier(tiny_model), text)}
    concept = [e for e in explanations["port"].evidence if e.kind == "concept"]
    assert concept and concept[0].weight > 0
    assert {text[s:t] for s, t in concept[0].spans} == {"Ｐｏｒｔ ｏｆ ｅｎｔｒｙ", "口岸"}
    spans = highlight_spans(list(explanations.values()), label="port")
    assert all(text[s:t] for s, t, _, _ in spans)


def test_concept_matcher_handles_scripts_inflection_and_word_boundaries() -> None:
    matcher = ConceptMatcher((("p/port", ("口岸", "port of entry")), ("b/patrol", ("patrol",))))
    found = matcher.find("Patrolling near ports of entry; 口岸 and 口岸. Support staff, patrolman.")
    assert [(m.concept, m.term) for m in found] == [
        ("b/patrol", "Patrolling"), ("p/port", "ports of entry"), ("p/port", "口岸"), ("p/port", "口岸"),
    ]
    assert [m.concept for m in ConceptMatcher((("p/port", ("口岸",)),)).find("口岸")] == ["p/port"]
    traditional = ConceptMatcher((("b/border", ("边检站",)),)).find("邊檢站")
    assert [(m.term, m.start, m.end) for m in traditional] == [("邊檢站", 0, 3)]


@pytest.mark.slow
def test_model_beats_the_keyword_baseline_on_grouped_cv() -> None:
    taxonomy = load_taxonomy()
    rows = load_labelled()
    cv = cross_validate(
        rows,
        {"model": lambda _rows: make_model(taxonomy, inner_folds=3),
         "keywords": lambda _rows: KeywordBaseline(labels=taxonomy.label_ids, lexicon=taxonomy.lexicon)},
        taxonomy.label_ids, n_splits=5, repeats=1,
    )
    model, keywords = cv["models"]["model"], cv["models"]["keywords"]
    assert model["macro_f1"]["mean"] > keywords["macro_f1"]["mean"]
    assert model["micro_f1"]["mean"] > keywords["micro_f1"]["mean"]


@pytest.mark.parametrize(("max_n", "min_df"), [(1, 1), (2, 1), (3, 2)])
def test_word_vectorizer_equals_sklearn_tfidf(max_n: int, min_df: int) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from classifier.labels.taxonomy import codebook_tokenizer
    from classifier.model.vectorizer import WordTfidfVectorizer
    from classifier.text.normalize import fold

    tokenize = codebook_tokenizer()
    texts = [r.text for r in load_labelled()[:160]] + ["", "。。。"]
    folded = [fold(t) for t in texts]  # ours takes folded text: a paragraph is folded once, upstream
    reference = TfidfVectorizer(tokenizer=tokenize, token_pattern=None, lowercase=False, ngram_range=(1, max_n),
                                sublinear_tf=True, min_df=min_df).fit(texts[:120])
    ours = WordTfidfVectorizer(tokenizer=tokenize, max_n=max_n, min_df=min_df).fit(folded[:120])
    assert ours.vocabulary_ == reference.vocabulary_
    assert list(ours.get_feature_names_out()) == list(reference.get_feature_names_out())
    difference = ours.transform(folded[100:]) - reference.transform(texts[100:])
    assert abs(difference).max() < 1e-12


@pytest.mark.parametrize(("word_weight", "subwords", "nb_scale"), [(1.0, False, 0.0), (0.5, False, 0.0), (3.0, True, 0.0),
                                                                  (3.0, False, 1.0)])
def test_serving_form_scores_exactly_like_the_estimator(tmp_path, word_weight: float, subwords: bool,
                                                         nb_scale: float) -> None:
    from classifier.scoring.serving import ServingModel

    tiny_model = MeasureClassifier(labels=LABELS, lexicon=LEXICON, inner_folds=3, word_weight=word_weight,
                                   use_chars=True, use_subwords=subwords, nb_scale=nb_scale).fit(TEXTS, Y, groups=GROUPS)
    assert ("subwords" in dict(tiny_model.vectorizer_.transformer_list)) == subwords
    ServingModel.from_classifier(tiny_model).save(tmp_path)
    served = ServingModel.load(tmp_path)
    texts = [*TEXTS, "口岸 patrol 混合 text", ""]
    assert np.allclose(served.predict_proba(texts), tiny_model.predict_proba(texts), atol=1e-12)
    assert (served.predict(texts) == tiny_model.predict(texts)).all()


def test_naive_bayes_ratios_are_the_log_count_ratios_of_presence() -> None:
    from scipy import sparse as sp

    from classifier.model.estimator import _nb_ratios

    present = sp.csr_matrix(np.array([[1, 0, 1], [1, 1, 0], [0, 1, 0], [0, 1, 1]], dtype=float))
    y = np.array([1, 1, 0, 0])
    # column counts in positives (2, 1, 1) and negatives (0, 2, 1), each + alpha 1: (3, 2, 2) / 7 and (1, 3, 2) / 6
    expected = np.abs(np.log((np.array([3, 2, 2]) / 7) / (np.array([1, 3, 2]) / 6)))
    assert np.allclose(_nb_ratios(present, y, 1.0), expected, atol=1e-15)


def test_naive_bayes_scaling_keeps_the_model_linear_in_the_original_features() -> None:
    scaled = MeasureClassifier(labels=LABELS, lexicon=LEXICON, inner_folds=3, nb_scale=1.0).fit(TEXTS, Y, groups=GROUPS)
    plain = MeasureClassifier(labels=LABELS, lexicon=LEXICON, inner_folds=3).fit(TEXTS, Y, groups=GROUPS)
    from classifier.model.features import fold_batch

    features = scaled.vectorizer_.transform(fold_batch(TEXTS))
    assert np.allclose(scaled.decision_function(TEXTS), features @ scaled.coef_.T + scaled.intercept_, atol=1e-12)
    assert not np.allclose(scaled.coef_, plain.coef_)  # the scaling changed what the penalty favours
    assert (scaled.predict(TEXTS) == Y).all()
