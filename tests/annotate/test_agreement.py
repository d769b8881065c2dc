"""Agreement coefficients on hand-computed examples, the agreement report and review queues."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier import store as S
from classifier.annotate.agreement import (
    agreement_report,
    cohen_kappa,
    disagreements,
    flagged,
    krippendorff_alpha,
    likely_label_errors,
)
from classifier.text.paragraph import Paragraph, paragraph_id


@pytest.fixture
def store(tmp_path: Path):
    with S.open_store(tmp_path / "pmc.sqlite") as opened:
        yield opened


def _add(store: S.Store, n: int) -> list[str]:
    texts = [f"Paragraph number {i}." for i in range(n)]
    S.ingest_paragraphs(store, [Paragraph(paragraph_id(t), "d", i, t, "en") for i, t in enumerate(texts)])
    return [paragraph_id(t) for t in texts]


def _accept(store: S.Store, pid: str, annotator: str, *labels: str) -> None:
    S.record_answer(store, pid, annotator=annotator, answer="accept", labels=list(labels))


# --- coefficients ----------------------------------------------------------------------------


def test_cohen_kappa_on_a_2x2_table():
    # yes/yes 20, yes/no 5, no/yes 10, no/no 15: po = 35/50 = 0.7, pe = 0.5·0.6 + 0.5·0.4 = 0.5
    a = [1] * 20 + [1] * 5 + [0] * 10 + [0] * 15
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4, abs=1e-12)
    # 45/15/25/15: po = 0.6, pe = 0.6·0.7 + 0.4·0.3 = 0.54, kappa = 0.06 / 0.46 = 3/23
    a = [1] * 45 + [1] * 15 + [0] * 25 + [0] * 15
    b = [1] * 45 + [0] * 15 + [1] * 25 + [0] * 15
    assert cohen_kappa(a, b) == pytest.approx(3 / 23, abs=1e-12)


def test_cohen_kappa_edge_cases():
    assert cohen_kappa([1, 0, 1], [1, 0, 1]) == 1.0
    assert cohen_kappa([1, 0], [0, 1]) == -1.0
    assert cohen_kappa([], []) is None
    assert cohen_kappa([1, 1], [1, 1]) is None  # chance agreement is 1: undefined
    with pytest.raises(ValueError, match="paired decisions"):
        cohen_kappa([1], [1, 0])


def test_krippendorff_alpha_on_a_small_binary_example():
    # units (1,1) (1,0) (0,0) (0,0): o11 = 2, o00 = 4, o10 = o01 = 1; n1 = 3, n0 = 5, n = 8
    # alpha = 1 − 7 · 2 / (2 · 3 · 5) = 8/15 (Cohen's kappa of the same data is 0.5)
    units = [(1, 1), (1, 0), (0, 0), (0, 0)]
    assert krippendorff_alpha(units) == pytest.approx(8 / 15, abs=1e-12)
    assert cohen_kappa([u[0] for u in units], [u[1] for u in units]) == pytest.approx(0.5)


def test_krippendorff_alpha_on_the_textbook_example_with_missing_values():
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 observers, 12 units,
    # nominal; alpha = 0.743 (exactly 113/152).
    N = None
    observers = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
        [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
    ]
    alpha = krippendorff_alpha(list(zip(*observers)))
    assert round(alpha, 3) == 0.743
    assert alpha == pytest.approx(113 / 152, abs=1e-12)


def test_krippendorff_alpha_edge_cases():
    assert krippendorff_alpha([(1, 1), (0, 0)]) == 1.0
    assert krippendorff_alpha([(1, None), (None,)]) is None  # nothing pairable
    assert krippendorff_alpha([(1, 1), (1, 1)]) is None  # no variation
    assert krippendorff_alpha([(1, 0), (0, 1)]) == pytest.approx(-0.5)


def test_krippendorff_alpha_matches_the_reference_package():
    krippendorff = pytest.importorskip("krippendorff")
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(0)
    for _ in range(10):
        data = rng.integers(0, 3, size=(4, 25)).astype(float)
        data[rng.random(data.shape) < 0.25] = np.nan
        units = [[None if np.isnan(v) else int(v) for v in column] for column in data.T]
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
        assert krippendorff_alpha(units) == pytest.approx(expected, abs=1e-9)


# --- the report ------------------------------------------------------------------------------


def test_agreement_report_for_two_annotators(store):
    ids = _add(store, 5)
    alice = [("border_patrol",), ("border_patrol",), (), (), ("enforcement",)]
    bob = [("border_patrol",), (), (), (), ("enforcement",)]
    for pid, a, b in zip(ids[:4], alice, bob):
        _accept(store, pid, "alice", *a)
        _accept(store, pid, "bob", *b)
    _accept(store, ids[4], "alice", *alice[4])  # alice alone: not shared
    S.record_answer(store, ids[3], annotator="carol", answer="skip", labels=[])  # skips do not count
    S.set_gold(store, ids[0], labels=["border_patrol"], reviewer="rev")
    S.set_gold(store, ids[1], labels=[], reviewer="rev")
    report = agreement_report(store)
    assert report["annotators"] == ["alice", "bob"]
    assert report["paragraphs"] == 4
    # border_patrol decisions: alice 1 1 0 0, bob 1 0 0 0 -> alpha 8/15, kappa 0.5
    assert report["labels"]["border_patrol"]["alpha"] == pytest.approx(8 / 15)
    assert report["labels"]["border_patrol"]["kappa"] == pytest.approx(0.5)
    assert report["labels"]["border_patrol"]["positives"] == 3
    assert report["labels"]["enforcement"] == {"alpha": None, "kappa": None, "positives": 0}
    # pooled over 4 paragraphs x 5 labels: 19 agreements, one disagreement
    # alice yes 2/20, bob yes 1/20 -> pe = (2·1 + 18·19) / 400 = 344/400, po = 19/20
    assert report["overall"]["kappa"] == pytest.approx((19 / 20 - 344 / 400) / (1 - 344 / 400))
    assert report["overall"]["exact_match"] == pytest.approx(3 / 4)
    assert report["overall"]["alpha"] == pytest.approx(1 - 39 * 2 / (2 * 3 * 37))
    [pair] = report["pairs"]
    assert (pair["annotators"], pair["paragraphs"], pair["agreement"]) == (["alice", "bob"], 4, pytest.approx(0.95))
    assert pair["labels"]["border_patrol"] == pytest.approx(0.5)
    assert report["per_annotator"]["alice"]["paragraphs"] == 5
    assert report["per_annotator"]["alice"]["others"]["decisions"] == 20
    # with gold on ids[0], ids[1]: alice disagrees on ids[1] border_patrol (1 of 10), bob agrees
    assert report["per_annotator"]["alice"]["gold"]["agreement"] == pytest.approx(0.9)
    assert report["per_annotator"]["bob"]["gold"] == {"decisions": 10, "agreement": 1.0, "kappa": 1.0}


def test_agreement_report_for_three_annotators_has_alpha_and_pairwise_kappa(store):
    ids = _add(store, 3)
    votes = {"alice": [1, 1, 0], "bob": [1, 0, 0], "carol": [1, 1, 1]}
    for name, row in votes.items():
        for pid, vote in zip(ids, row):
            _accept(store, pid, name, *(["enforcement"] if vote else []))
    report = agreement_report(store, labels=["enforcement"])
    # units (1,1,1) (1,0,1) (0,0,1), each pair weighted 1/(m − 1) = 1/2:
    # o11 = 6/2 + 2/2 = 4, o10 = o01 = 1/2·2 + 1/2·2 = 2, o00 = 2/2 = 1; n1 = 6, n0 = 3, n = 9
    # alpha = 1 − 8 · 4 / (2 · 6 · 3) = 1/9
    assert report["labels"]["enforcement"]["alpha"] == pytest.approx(1 / 9)
    assert report["labels"]["enforcement"]["kappa"] is None  # Cohen's kappa is for two annotators
    assert [p["annotators"] for p in report["pairs"]] == [["alice", "bob"], ["alice", "carol"], ["bob", "carol"]]
    assert report["pairs"][0]["kappa"] == pytest.approx(cohen_kappa([1, 1, 0], [1, 0, 0]))


# --- review queues ---------------------------------------------------------------------------


def test_disagreements_lists_differing_latest_answers_disputed_first(store):
    ids = _add(store, 5)
    _accept(store, ids[0], "alice", "enforcement")
    _accept(store, ids[0], "bob", "enforcement")  # agree
    _accept(store, ids[1], "alice", "enforcement", "border_patrol")
    _accept(store, ids[1], "bob", "enforcement")
    _accept(store, ids[1], "carol", "enforcement")  # majority resolves it, still a disagreement
    _accept(store, ids[2], "alice", "port_inspection")
    _accept(store, ids[2], "bob")  # a tie: disputed
    _accept(store, ids[3], "alice", "port_inspection")
    _accept(store, ids[3], "bob")
    S.set_gold(store, ids[3], labels=[], reviewer="rev")  # settled by gold
    _accept(store, ids[4], "alice")
    _accept(store, ids[4], "bob", "enforcement")
    _accept(store, ids[4], "bob")  # bob changed his mind: now they agree
    assert disagreements(store) == [
        {
            "paragraph_id": ids[2], "text": "Paragraph number 2.",
            "answers": {"alice": ["port_inspection"], "bob": []}, "labels": [], "status": "disputed",
            "disputed_labels": ["port_inspection"], "differing_labels": ["port_inspection"],
        },
        {
            "paragraph_id": ids[1], "text": "Paragraph number 1.",
            "answers": {"alice": ["enforcement", "border_patrol"], "bob": ["enforcement"], "carol": ["enforcement"]},
            "labels": ["enforcement"], "status": "labelled", "disputed_labels": [],
            "differing_labels": ["border_patrol"],
        },
    ]


def test_flagged_lists_open_flags_oldest_first(store):
    ids = _add(store, 3)
    S.record_answer(store, ids[1], annotator="alice", answer="flag", labels=[], note="garbled text")
    S.record_answer(store, ids[0], annotator="bob", answer="flag", labels=[], note="two measures?")
    S.record_answer(store, ids[2], annotator="bob", answer="flag", labels=[])
    S.set_gold(store, ids[2], labels=[], reviewer="rev")  # resolved by a later gold decision
    items = flagged(store)
    assert [(i["paragraph_id"], [f["note"] for f in i["flags"]], i["gold"]) for i in items] == [
        (ids[1], ["garbled text"], False),
        (ids[0], ["two measures?"], False),
    ]


def test_likely_label_errors_where_the_model_is_confidently_against_gold(store):
    ids = _add(store, 4)
    S.set_gold(store, ids[0], labels=["enforcement"], reviewer="rev")
    S.set_gold(store, ids[1], labels=[], reviewer="rev")
    _accept(store, ids[2], "alice", "border_patrol")
    scores = {
        ids[0]: {"enforcement": 0.05, "border_patrol": 0.5},  # gold has it, p < 0.1
        ids[1]: {"enforcement": 0.95, "border_patrol": 0.9},  # gold lacks it, p > 0.9 (0.9 is not)
        ids[2]: {"border_patrol": 0.08},  # annotator label, confidently against
        ids[3]: {"enforcement": 0.99},  # unlabelled: not checked
    }
    found = likely_label_errors(store, scores)
    assert [(x["paragraph_id"], x["label"], x["p"], x["gold_has_label"]) for x in found] == [
        (ids[0], "enforcement", 0.05, True),
        (ids[1], "enforcement", 0.95, False),
        (ids[2], "border_patrol", 0.08, True),
    ]
    assert found[2]["source"] == "annotation" and found[2]["annotator"] == "alice"
    # enforcement: flagged above 0.5 or below 0.1; border_patrol: above 0.7 or below 0.3
    stricter = likely_label_errors(store, scores, thresholds={"enforcement": 0.3}, margin=0.2)
    assert [(x["paragraph_id"], x["label"]) for x in stricter] == [
        (ids[1], "enforcement"),  # 0.65 from its threshold
        (ids[2], "border_patrol"),  # 0.42
        (ids[1], "border_patrol"),  # 0.40
        (ids[0], "enforcement"),  # 0.25
    ]
