"""Choosing the next paragraph: strategies, the pool rules, claims, determinism."""

from __future__ import annotations

import multiprocessing

import pytest

from classifier import store as S
from classifier.annotate.queue import (
    QueueItem,
    TermMatcher,
    UncertaintySampling,
    label_matcher,
    next_paragraph,
    rank_by_uncertainty,
)
from classifier.annotate.session import next_item
from classifier.store.documents import _hash_keys
from classifier.scoring.decision import uncertainty
from classifier.workspace import Workspace, cache_scores
from classifier.errors import EmptyPoolError, LabelDataError, StoreError
from classifier.text.paragraph import Paragraph, paragraph_id
from classifier.labels.taxonomy import load_taxonomy

TEXTS = [
    "Border police stepped up patrols along the frontier.",
    "国家移民管理局加强口岸查验。",
    "The weather was fine all week.",
    "Support for local schools increased.",
    "邊檢站加強口岸管理。",
]


@pytest.fixture
def store(store_target):
    """A fresh store on each backend (SQLite, and PostgreSQL when a server is configured)."""
    with S.open_store(store_target) as opened:
        yield opened


def _add(store: S.Store, texts: list[str], doc: str = "d") -> list[str]:
    paragraphs = [Paragraph(paragraph_id(t), doc, i, t, "en") for i, t in enumerate(texts)]
    S.ingest_paragraphs(store, paragraphs)
    return [p.id for p in paragraphs]


def _take(store: S.Store, annotator: str, **options) -> str:
    item = next_paragraph(store, annotator=annotator, **options)
    S.record_answer(store, item.paragraph_id, annotator=annotator, answer="accept", labels=[])
    return item.paragraph_id


def test_uncertainty_is_the_distance_to_the_nearest_threshold():
    assert uncertainty({"a": 0.9, "b": 0.45}) == pytest.approx(0.05)
    assert uncertainty({"a": 0.9, "b": 0.45}, {"a": 0.85, "b": 0.1}) == pytest.approx(0.05)
    assert uncertainty({"a": 0.9, "b": 0.45}, {"a": 0.88, "b": 0.1}) == pytest.approx(0.02)
    assert uncertainty({}) == 1.0
    ranked = rank_by_uncertainty({"x": [0.1, 0.9], "y": [0.6, 0.0], "z": [0.2, 0.8]}, label_ids=["a", "b"])
    assert [pid for pid, _ in ranked] == ["y", "z", "x"]


def test_active_picks_the_paragraph_nearest_a_threshold_until_the_pool_is_empty(store):
    a, b, c = _add(store, TEXTS[:3])
    scores = {
        a: {"border_patrol": 0.8, "enforcement": 0.1},  # 0.30 from 0.5
        b: {"border_patrol": 0.05, "enforcement": 0.55},  # 0.05
        c: {"border_patrol": 0.02, "enforcement": 0.05},  # 0.45
    }
    options = {"strategy": "active", "scores": scores, "random_share": 0.0, "seed": 1}
    item = next_paragraph(store, annotator="alice", **options)
    assert (item.paragraph_id, item.strategy, item.uncertainty) == (b, "active", pytest.approx(0.05))
    assert item.reason == "uncertain: 0.050 from a threshold"
    assert [_take(store, "alice", **options) for _ in range(3)] == [b, a, c]
    with pytest.raises(EmptyPoolError, match="no paragraph left for annotator 'alice'"):
        next_paragraph(store, annotator="alice", **options)


def test_active_uses_per_label_thresholds(store):
    a, b = _add(store, TEXTS[:2])
    scores = {a: {"border_patrol": 0.3}, b: {"border_patrol": 0.6}}
    assert next_paragraph(store, annotator="alice", scores=scores, random_share=0.0).paragraph_id == b
    assert next_paragraph(
        store, annotator="bob", scores=scores, thresholds={"border_patrol": 0.25}, random_share=0.0
    ).paragraph_id == a


def test_active_reads_the_active_models_cached_scores(store):
    a, b, c = _add(store, TEXTS[:3])
    rows = {a: [0.9, 0.1, 0.1, 0.1, 0.1], b: [0.1, 0.1, 0.4, 0.1, 0.1], c: [0.1, 0.1, 0.1, 0.1, 0.7]}
    assert cache_scores(store, "m1", rows) == 3
    assert S.read_scores(store, "m1", [b]) == {
        b: {"enforcement": 0.1, "port_inspection": 0.1, "border_patrol": 0.4, "source_governance": 0.1,
            "international_cooperation": 0.1},
    }
    order = []
    for _ in range(3):
        item = next_paragraph(store, annotator="alice", random_share=0.0, model_version="m1")
        assert item.strategy == "active"
        S.record_answer(store, item.paragraph_id, annotator="alice", answer="accept", labels=[])
        order.append((item.paragraph_id, round(item.uncertainty, 6)))
    assert order == [(b, 0.1), (c, 0.2), (a, 0.4)]


def test_active_without_scores_falls_back_to_random_and_says_so(store):
    [a] = _add(store, TEXTS[:1])
    item = next_paragraph(store, annotator="alice", strategy="active", random_share=0.0)
    assert (item.paragraph_id, item.reason) == (a, "random: no model scores left for this pool")


def test_the_random_share_is_sampled_and_seeded(tmp_path):
    picks = []
    for run in range(2):
        with S.open_store(tmp_path / f"{run}.sqlite") as fresh:
            ids = _add(fresh, [f"Paragraph {i}." for i in range(30)])
            scores = {pid: {"enforcement": 0.5 + i / 100} for i, pid in enumerate(ids)}
            items = []
            for _ in range(20):
                item = next_paragraph(fresh, annotator="alice", scores=scores, random_share=0.5, seed=7)
                S.record_answer(fresh, item.paragraph_id, annotator="alice", answer="accept", labels=[])
                items.append((item.paragraph_id, item.reason))
            picks.append(items)
    assert picks[0] == picks[1]
    reasons = [reason for _, reason in picks[0]]
    assert 3 <= reasons.count("random share (keeps the sample unbiased)") <= 17
    ranks = [ids.index(pid) for pid, reason in picks[0] if reason.startswith("uncertain")]
    assert ranks == sorted(ranks)  # uncertainty i/100 for the i-th paragraph: taken in order
    assert len(set(pid for pid, _ in picks[0])) == 20


def test_random_visits_every_pool_paragraph_once(store):
    ids = _add(store, [f"Paragraph {i}." for i in range(12)])
    seen = [_take(store, "alice", strategy="random", seed=3) for _ in range(12)]
    assert sorted(seen) == sorted(ids)
    assert seen != ids  # not document order
    with pytest.raises(EmptyPoolError):
        next_paragraph(store, annotator="alice", strategy="random", seed=3)


def test_document_order(store):
    first = _add(store, TEXTS[:2], doc="d1")
    second = _add(store, [TEXTS[2], TEXTS[0]], doc="d2")
    assert [_take(store, "alice", strategy="document") for _ in range(3)] == [*first, second[0]]
    with pytest.raises(EmptyPoolError):
        next_paragraph(store, annotator="alice", strategy="document")


def test_keyword_returns_only_matches_of_the_labels_codebook_terms(store):
    ids = _add(store, TEXTS)
    taken = []
    while True:
        try:
            item = next_paragraph(store, annotator="alice", strategy="keyword", label="port_inspection")
        except EmptyPoolError as exc:
            assert str(exc).startswith("no paragraph left matching the terms of 'port_inspection' for annotator 'alice'")
            break
        assert item.reason == "matching the terms of 'port_inspection'"
        S.record_answer(store, item.paragraph_id, annotator="alice", answer="accept", labels=[])
        taken.append(item.paragraph_id)
    assert taken == [ids[1], ids[4]]  # 口岸 in Simplified and Traditional; not "Support"


def test_keyword_with_a_given_term_list(store):
    ids = _add(store, TEXTS)
    item = next_paragraph(store, annotator="alice", strategy="keyword", terms=["WEATHER"])
    assert item.paragraph_id == ids[2]


def test_term_matcher_folds_case_width_and_script_and_respects_words():
    match = TermMatcher(["port", "边检站", "Border Police"])
    assert match("Inspection at the PORT.")
    assert match("ｂｏｒｄｅｒ　police officers")  # full width, ideographic space
    assert match("深圳邊檢站")  # Traditional script
    assert TermMatcher(["邊檢站"])("深圳边检站")
    assert not match("Support and report.")
    assert not match("passports")
    assert label_matcher("border_patrol", taxonomy=load_taxonomy())("增加巡逻频次")
    with pytest.raises(LabelDataError, match="unknown label 'smuggling' for the keyword strategy"):
        label_matcher("smuggling", taxonomy=load_taxonomy())
    with pytest.raises(LabelDataError, match="no terms to match"):
        TermMatcher([" "])


def test_an_empty_store_raises_the_named_error(store):
    for strategy in ("active", "random", "document"):
        with pytest.raises(EmptyPoolError):
            next_paragraph(store, annotator="alice", strategy=strategy)


def test_strategy_options_are_checked(store):
    _add(store, TEXTS[:1])
    with pytest.raises(StoreError, match="unknown strategy 'smart'; expected one of active, random, document, keyword"):
        next_paragraph(store, annotator="alice", strategy="smart")
    with pytest.raises(LabelDataError, match="the keyword strategy needs a label"):
        next_paragraph(store, annotator="alice", strategy="keyword")
    with pytest.raises(StoreError, match="overlap is 1.5; give a share between 0 and 1"):
        next_paragraph(store, annotator="alice", overlap=1.5)
    with pytest.raises(LabelDataError, match="annotator is ''"):
        next_paragraph(store, annotator="")


def test_without_overlap_each_paragraph_goes_to_one_annotator(store):
    a, b = _add(store, TEXTS[:2])
    assert _take(store, "alice", strategy="document") == a
    assert _take(store, "bob", strategy="document") == b
    with pytest.raises(EmptyPoolError):
        next_paragraph(store, annotator="carol", strategy="document")


def test_a_skip_leaves_the_paragraph_to_others(store):
    [a] = _add(store, TEXTS[:1])
    S.record_answer(store, a, annotator="alice", answer="skip", labels=[])
    with pytest.raises(EmptyPoolError):
        next_paragraph(store, annotator="alice", strategy="document")
    assert next_paragraph(store, annotator="bob", strategy="document").paragraph_id == a


def test_the_overlap_share_is_a_stable_hash_and_goes_to_a_second_annotator(store):
    ids = _add(store, [f"Paragraph {i}." for i in range(40)])
    for _ in ids:
        _take(store, "alice", strategy="document")
    expected = [pid for pid in ids if _hash_keys(pid)[0] < 0.5]
    assert 10 <= len(expected) <= 30
    second = []
    while True:
        try:
            second.append(_take(store, "bob", strategy="document", overlap=0.5))
        except EmptyPoolError:
            break
    assert second == expected
    with pytest.raises(EmptyPoolError):  # two annotators each: nothing for a third
        next_paragraph(store, annotator="carol", strategy="document", overlap=0.5)
    assert next_paragraph(
        store, annotator="carol", strategy="document", overlap=0.5, overlap_annotators=3
    ).paragraph_id == expected[0]


def test_gold_paragraphs_are_left_out_unless_asked_for(store):
    a, b = _add(store, TEXTS[:2])
    S.set_gold(store, a, labels=[], reviewer="rev")
    assert next_paragraph(store, annotator="alice", strategy="document").paragraph_id == b
    assert next_paragraph(store, annotator="bob", strategy="document", include_gold=True).paragraph_id == a


def test_claims_keep_sessions_apart_until_answered_or_expired(store):
    a, b = _add(store, TEXTS[:2])
    item = next_paragraph(store, annotator="alice", strategy="document")
    assert isinstance(item, QueueItem) and item.paragraph_id == a
    assert S.active_claims(store) == {a: ("alice", item.claim_expires_at)}
    assert next_paragraph(store, annotator="bob", strategy="document").paragraph_id == b
    with pytest.raises(EmptyPoolError):
        next_paragraph(store, annotator="carol", strategy="document")
    S.record_answer(store, a, annotator="alice", answer="accept", labels=[])
    assert set(S.active_claims(store)) == {b}
    # a claim that has expired no longer holds the paragraph
    next_paragraph(store, annotator="bob", strategy="document", claim_seconds=0)
    assert next_paragraph(store, annotator="carol", strategy="document").paragraph_id == b


def test_asking_again_replaces_the_annotators_claim(store):
    a, b = _add(store, TEXTS[:2])
    assert next_paragraph(store, annotator="alice", strategy="document").paragraph_id == a
    assert next_paragraph(store, annotator="alice", strategy="document").paragraph_id == a
    assert next_paragraph(store, annotator="alice", strategy="keyword", label="port_inspection").paragraph_id == b
    assert set(S.active_claims(store)) == {b}
    assert S.release_claims(store, annotator="alice") == 1


def test_blind_hides_the_other_annotators_answers(store, tmp_path):
    [a] = _add(store, TEXTS[:1])
    S.record_answer(store, a, annotator="alice", answer="accept", labels=["border_patrol"])
    ws = Workspace.of(store, tmp_path / "models")
    assert next_item(ws, "bob", strategy="document", overlap=1.0, blind=True).others == ()
    item = next_item(ws, "bob", strategy="document", overlap=1.0, blind=False)
    assert [(x["annotator"], x["labels"]) for x in item.others] == [("alice", ["border_patrol"])]


def test_a_strategy_object_ranks_once_and_is_reused(store):
    a, b = _add(store, TEXTS[:2])
    strategy = UncertaintySampling(scores={a: {"enforcement": 0.9}, b: {"enforcement": 0.6}}, random_share=0.0)
    assert _take(store, "alice", strategy=strategy) == b
    assert _take(store, "alice", strategy=strategy) == a


def _claim_and_answer(path: str, annotator: str, queue) -> None:
    with S.open_store(path, timeout=60) as own:
        while True:
            try:
                item = next_paragraph(own, annotator=annotator, strategy="random")
            except EmptyPoolError:
                return
            queue.put((annotator, item.paragraph_id))
            S.record_answer(own, item.paragraph_id, annotator=annotator, answer="accept", labels=[])


def test_concurrent_sessions_never_get_the_same_paragraph(store_target):
    path = store_target
    with S.open_store(path) as setup:
        ids = _add(setup, [f"Paragraph {i} for the crowd." for i in range(60)])
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_claim_and_answer, args=(str(path), f"w{k}", queue)) for k in range(4)]
    for w in workers:
        w.start()
    handed = [queue.get(timeout=30) for _ in range(60)]  # drain before join
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    assert queue.empty()
    assert sorted(pid for _, pid in handed) == sorted(ids)
    with S.open_store(path) as check:
        assert all(len(S.annotations_for(check, pid)) == 1 for pid in ids)


def test_codebook_examples_are_offered_only_when_asked_for(store):
    real, example = _add(store, TEXTS[:2])
    S.set_gold(store, example, labels=["port_inspection"], reviewer="codebook", source="codebook")
    S.set_gold(store, real, labels=[], reviewer="lead")
    assert next_paragraph(store, annotator="a1", strategy="document", include_gold=True).paragraph_id == real
    with pytest.raises(EmptyPoolError):  # `real` is a1's now, and the codebook example is not offered
        next_paragraph(store, annotator="a2", strategy="document", include_gold=True)
    assert next_paragraph(store, annotator="admin", strategy="document", include_gold=True,
                          include_codebook=True).paragraph_id == example
    summary = S.progress(store)
    assert (summary["paragraphs"], summary["codebook"], summary["labelled"], summary["share"]) == (1, 1, 1, 1.0)


def test_paragraphs_needing_a_second_answer_come_first(store):
    ids = _add(store, TEXTS)
    share = {pid: _hash_keys(pid)[0] for pid in ids}
    doubled = max(ids, key=share.get)  # with overlap 1.0 every paragraph may get two answers
    S.record_answer(store, doubled, annotator="first", answer="accept", labels=["enforcement"])
    item = next_paragraph(store, annotator="second", strategy="active", overlap=1.0, random_share=0.0)
    assert (item.paragraph_id, item.reason) == (doubled, "needs a second, independent answer")
    # Without overlap nobody needs a second answer, and the keyword strategy keeps its own order.
    assert next_paragraph(store, annotator="third", strategy="document").paragraph_id != doubled
