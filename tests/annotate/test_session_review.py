"""The label session and review (`classifier.annotate.session`, `.review`, `.codebook`, `.highlight`)
on a tiny bootstrapped workspace in tmp_path (see `ready` in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.annotate import codebook as codebook_view
from classifier.annotate import highlight, review, session
from classifier.errors import EmptyPoolError, LabelDataError, StaleAnswerError
from classifier.scoring.registry import active_version
from classifier.store import annotations_for, gold_rows, latest_gold, open_store, record_answer
from classifier.text.reader import read_document
from classifier.text.segmenter import segment
from classifier.workspace import Workspace
from conftest import LABELS, make_workspace, small_gold


# -- labelling -------------------------------------------------------------------------------


def test_next_item_carries_suggestion_context_and_position(store, registry: Path) -> None:
    item = session.next_item(Workspace.of(store, registry), "ann-item", strategy="document")
    assert item.model_version == active_version(registry=registry)
    assert set(item.scores) == set(LABELS) and set(item.thresholds) == set(LABELS)
    assert item.suggested == tuple(x for x in LABELS if item.scores[x] >= item.thresholds[x])
    assert item.prefill == item.suggested
    paragraphs = segment(read_document(Path(__file__).resolve().parents[2] / "seeds" / f"{item.doc}.txt"))
    assert paragraphs[item.index].id == item.paragraph_id
    assert item.doc_length == len(paragraphs)
    assert item.position == f"paragraph {item.index + 1} of {len(paragraphs)}"
    assert item.before == tuple(p.text for p in paragraphs[max(0, item.index - 1) : item.index])
    assert item.after == tuple(p.text for p in paragraphs[item.index + 1 : item.index + 2])
    assert item.title == paragraphs[item.index].title
    for start, end, label, weight in item.spans:
        assert 0 <= start < end <= len(item.text) and label in LABELS and weight > 0


def test_blind_mode_hides_the_suggestion_and_records_none(store, registry: Path) -> None:
    item = session.next_item(Workspace.of(store, registry), "ann-blind", strategy="random", blind=True, seed=1)
    assert (item.model_version, item.scores, item.suggested, item.spans) == (None, {}, (), ())
    session.save_answer(Workspace.of(store, registry), item, annotator="ann-blind", labels=["enforcement"])
    answer = annotations_for(store, item.paragraph_id)[-1]
    assert (answer.model_version, answer.scores, answer.labels) == (None, None, ("enforcement",))


def test_save_answer_records_labels_model_version_and_shown_scores(store, registry: Path) -> None:
    item = session.next_item(Workspace.of(store, registry), "ann-save", strategy="document")
    row = session.save_answer(Workspace.of(store, registry), item, annotator="ann-save", labels=["border_patrol", "enforcement"], note="ok")
    answer = annotations_for(store, item.paragraph_id)[-1]
    assert answer.id == row
    assert (answer.annotator, answer.answer, answer.labels, answer.note) == (
        "ann-save", "accept", ("enforcement", "border_patrol"), "ok")
    assert answer.model_version == item.model_version
    assert answer.scores == pytest.approx(item.scores)


def test_a_submission_saves_once_and_only_for_the_item_shown(store, registry: Path) -> None:
    ws = Workspace.of(store, registry)
    item = session.next_item(ws, "ann-token", strategy="document")
    sent = {"paragraph_id": item.paragraph_id, "token": item.token, "answer": "accept",
            "labels": ["port_inspection"], "note": "n"}
    session.submit(ws, item, sent, annotator="ann-token")
    with pytest.raises(StaleAnswerError) as caught:  # the same Enter again: refused, nothing written
        session.submit(ws, item, sent, annotator="ann-token")
    assert str(caught.value) == (f"answer on paragraph {item.paragraph_id} not saved: it was just saved "
                                 f"(a repeated key or click); it is not saved twice")
    assert [a.labels for a in annotations_for(store, item.paragraph_id)] == [("port_inspection",)]
    following = session.next_item(ws, "ann-token", strategy="document")
    with pytest.raises(StaleAnswerError, match="this page now shows"):  # keys meant for the old paragraph
        session.submit(ws, following, sent, annotator="ann-token")
    assert annotations_for(store, following.paragraph_id) == []


def test_a_stale_tab_cannot_save_after_another_tab_took_a_paragraph(store, registry: Path) -> None:
    ws = Workspace.of(store, registry)
    first_tab = session.next_item(ws, "ann-tabs", strategy="document")
    second_tab = session.next_item(ws, "ann-tabs", strategy="document")  # one claim per annotator
    assert second_tab.token != first_tab.token
    with pytest.raises(StaleAnswerError) as caught:
        session.save_answer(ws, first_tab, annotator="ann-tabs", labels=["enforcement"])
    assert "has opened another paragraph since" in str(caught.value) or "opened again" in str(caught.value)
    assert annotations_for(store, first_tab.paragraph_id) == []
    session.save_answer(ws, second_tab, annotator="ann-tabs", labels=["enforcement"])
    assert [a.labels for a in annotations_for(store, second_tab.paragraph_id)] == [("enforcement",)]


def test_another_annotators_item_cannot_be_saved_under_my_name(store, registry: Path) -> None:
    ws = Workspace.of(store, registry)
    item = session.next_item(ws, "ann-own", strategy="document")
    with pytest.raises(StaleAnswerError, match="expired or was released"):
        session.save_answer(ws, item, annotator="ann-other", labels=["enforcement"])


@pytest.mark.parametrize(("kind", "stored", "labels"), [
    ("none", "accept", ()), ("skip", "skip", ()), ("flag", "flag", ("enforcement",)),
])
def test_save_answer_kinds(store, registry: Path, kind: str, stored: str, labels: tuple[str, ...]) -> None:
    name = f"ann-{kind}"
    item = session.next_item(Workspace.of(store, registry), name, strategy="document")
    session.save_answer(Workspace.of(store, registry), item, annotator=name, labels=["enforcement"], answer=kind)
    answer = annotations_for(store, item.paragraph_id)[-1]
    assert (answer.answer, answer.labels) == (stored, ("enforcement",) if kind != "none" else labels)


def test_save_answer_refuses_an_unknown_kind(store, registry: Path) -> None:
    item = session.next_item(Workspace.of(store, registry), "ann-bad", strategy="document")
    with pytest.raises(LabelDataError, match=r"answer is 'maybe'; expected one of accept, none, skip, flag"):
        session.save_answer(Workspace.of(store, registry), item, annotator="ann-bad", answer="maybe")


def test_go_back_reopens_earlier_answers_and_appends_a_new_row(store, registry: Path) -> None:
    assert session.go_back(Workspace.of(store, registry), "ann-back") is None
    first = session.next_item(Workspace.of(store, registry), "ann-back", strategy="document")
    session.save_answer(Workspace.of(store, registry), first, annotator="ann-back", labels=["enforcement"])
    second = session.next_item(Workspace.of(store, registry), "ann-back", strategy="document")
    session.save_answer(Workspace.of(store, registry), second, annotator="ann-back", answer="skip")
    back = session.go_back(Workspace.of(store, registry), "ann-back")
    assert back.paragraph_id == second.paragraph_id and back.previous_answer["answer"] == "skip"
    back2 = session.go_back(Workspace.of(store, registry), "ann-back", steps=2)
    assert back2.paragraph_id == first.paragraph_id and back2.prefill == ("enforcement",)
    assert back2.token not in ("", back.token, first.token)  # reopening claims it afresh
    with pytest.raises(StaleAnswerError):  # the first Back's rendering is no longer current
        session.save_answer(Workspace.of(store, registry), back, annotator="ann-back", answer="skip")
    session.save_answer(Workspace.of(store, registry), back2, annotator="ann-back", labels=["port_inspection"])
    rows = [a for a in annotations_for(store, first.paragraph_id) if a.annotator == "ann-back"]
    assert [a.labels for a in rows] == [("enforcement",), ("port_inspection",)]
    assert session.go_back(Workspace.of(store, registry), "ann-back", steps=3) is None


def test_two_annotators_never_get_the_same_paragraph_without_overlap(store, registry: Path) -> None:
    a = session.next_item(Workspace.of(store, registry), "ann-a", seed=3)
    b = session.next_item(Workspace.of(store, registry), "ann-b", seed=3)
    assert a.paragraph_id != b.paragraph_id


def test_keyword_strategy_finds_a_labels_terms(store, registry: Path) -> None:
    item = session.next_item(Workspace.of(store, registry), "ann-kw", strategy="keyword", label="international_cooperation")
    assert "matching the terms of 'international_cooperation'" in item.reason
    with pytest.raises(LabelDataError, match="the keyword strategy needs a label"):
        session.next_item(Workspace.of(store, registry), "ann-kw2", strategy="keyword")


def test_exhausted_pool_raises(tmp_path: Path) -> None:
    db, registry, _ = make_workspace(tmp_path, seeds_dir=tmp_path / "no-seeds", unlabelled=tmp_path / "none.jsonl")
    with open_store(db) as store, pytest.raises(EmptyPoolError, match="no paragraph left for annotator 'x'"):
        session.next_item(Workspace.of(store, registry), "x")  # every paragraph is gold


def test_queue_preview_is_most_uncertain_first(store, registry: Path) -> None:
    preview = session.queue_preview(Workspace.of(store, registry), "ann-preview", n=5)
    assert len(preview) == 5
    assert [p["uncertainty"] for p in preview] == sorted(p["uncertainty"] for p in preview)


# -- review ----------------------------------------------------------------------------------


def _two_answers(store, registry: Path, first: list[str], second: list[str]) -> str:
    # Without overlap the queue only offers paragraphs nobody accepted yet (skips do not count).
    item = session.next_item(Workspace.of(store, registry), "rev-a", strategy="document")
    session.save_answer(Workspace.of(store, registry), item, annotator="rev-a", labels=first)
    # A second annotator on the same paragraph (as `pmc answers import` records it: no claim token).
    record_answer(store, item.paragraph_id, annotator="rev-b", answer="accept", labels=second)
    return item.paragraph_id


def test_review_disagreement_side_by_side_and_adjudication(store, registry: Path) -> None:
    pid = _two_answers(store, registry, ["enforcement"], ["enforcement", "port_inspection"])
    queues = review.review_queues(Workspace.of(store, registry))
    item = next(i for i in queues["disagreements"] if i["paragraph_id"] == pid)
    assert item["differing_labels"] == ["port_inspection"] and item["status"] == "disputed"
    detail = review.paragraph_review(Workspace.of(store, registry), pid)
    answers = {a["annotator"]: a["labels"] for a in detail["answers"] if a["answer"] == "accept"}
    assert answers == {"rev-a": ["enforcement"], "rev-b": ["enforcement", "port_inspection"]}
    assert set(detail["scores"]) == set(LABELS) and detail["gold"] is None
    table = {row["paragraph_id"]: row for row in review.answers_table(Workspace.of(store, registry))}
    assert (table[pid]["rev-a"], table[pid]["rev-b"]) == ("enforcement", "enforcement, port_inspection")

    review.adjudicate(Workspace.of(store, registry), pid, ["port_inspection", "enforcement"], reviewer="lead", note="both described")
    gold = latest_gold(store, [pid])[pid]
    assert (gold.labels, gold.reviewer, gold.source, gold.note) == (
        ("enforcement", "port_inspection"), "lead", "review", "both described")
    assert pid not in {i["paragraph_id"] for i in review.review_queues(Workspace.of(store, registry))["disagreements"]}
    assert review.paragraph_review(Workspace.of(store, registry), pid)["current"]["status"] == "gold"


def test_flagged_queue_and_agreement_report(store, registry: Path) -> None:
    item = session.next_item(Workspace.of(store, registry), "rev-flag", strategy="document")
    session.save_answer(Workspace.of(store, registry), item, annotator="rev-flag", answer="flag", note="unclear scope")
    flagged = {i["paragraph_id"]: i for i in review.review_queues(Workspace.of(store, registry))["flagged"]}
    assert flagged[item.paragraph_id]["flags"][0]["note"] == "unclear scope"
    _two_answers(store, registry, ["border_patrol"], ["border_patrol"])
    report = review.agreement(Workspace.of(store, registry))
    assert report["paragraphs"] >= 1 and set(report["labels"]) == set(LABELS)


def test_model_vs_gold_lists_confident_contradictions(store, registry: Path) -> None:
    # The model learnt these gold rows, so flip one to make the model contradict it.
    row = next(r for r in small_gold() if r.source == "seed" and r.labels)
    review.adjudicate(Workspace.of(store, registry), row.id, [], reviewer="lead", note="deliberately wrong")
    errors = review.review_queues(Workspace.of(store, registry), margin=0.2)["model_vs_gold"]
    assert any(e["paragraph_id"] == row.id and e["gold_has_label"] is False for e in errors)
    review.adjudicate(Workspace.of(store, registry), row.id, list(row.labels), reviewer="lead", note="restored")


# -- codebook and highlighting ---------------------------------------------------------------


def test_codebook_has_both_languages_and_gold_examples(store) -> None:
    entries = {e["id"]: e for e in codebook_view.codebook(store, examples=2)}
    assert list(entries) == [*LABELS, "none"]
    for label in LABELS:
        entry = entries[label]
        assert entry["name_en"] and entry["name_zh"] and entry["definition_en"] and entry["definition_zh"]
        assert entry["examples"] and all(label in x["labels"] for x in entry["examples"])
        langs = [x["lang"] for x in entry["examples"]]
        assert all(langs.count(lang) <= 2 for lang in langs)
    assert all(x["labels"] == [] for x in entries["none"]["examples"])


def test_highlight_html_escapes_the_text_and_marks_only_escaped_spans() -> None:
    text = 'Border <script>alert("x")</script> & port <b>inspection</b>'
    start = text.index("port")
    out = highlight.highlight_html(text, [(start, start + 4, "port_inspection", 1.5), (0, 6, "border_patrol", 0.5)],
                            labels=LABELS)
    assert "<script>" not in out and "<b>" not in out
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; " in out
    assert out.startswith('<mark class="pmc-evidence" style="background:#bbf7d0" title="border_patrol +0.50">Border'
                          '</mark>')
    assert '<mark class="pmc-evidence" style="background:#bfdbfe" title="port_inspection +1.50">port</mark>' in out
    assert out.endswith("&lt;b&gt;inspection&lt;/b&gt;")


def test_highlight_html_drops_overlapping_and_out_of_range_spans() -> None:
    out = highlight.highlight_html("口岸查验<i>", [(0, 2, "x", 1.0), (1, 3, "y", 1.0), (3, 99, "z", 1.0)])
    assert out == '<mark class="pmc-evidence" style="background:#e5e7eb" title="x +1.00">口岸</mark>查验&lt;i&gt;'


def test_label_with_markup_cannot_break_out_of_the_title_attribute() -> None:
    out = highlight.highlight_html("ab", [(0, 1, '"><script>', 1.0)])
    assert "<script>" not in out and "&quot;&gt;&lt;script&gt;" in out


def test_data_version_changes_with_answers(store, registry: Path) -> None:
    before = Workspace.of(store, registry).data_version()
    item = session.next_item(Workspace.of(store, registry), "ann-token", strategy="document")
    session.save_answer(Workspace.of(store, registry), item, annotator="ann-token", answer="skip")
    assert Workspace.of(store, registry).data_version() != before




def test_a_disagreement_on_a_gold_paragraph_counts_until_a_reviewer_decides(store, registry: Path) -> None:
    ws = Workspace.of(store, registry)
    pid = next(row.id for row in gold_rows(store) if row.source != "codebook")
    gold = list(latest_gold(store, [pid])[pid].labels)
    other = [x for x in LABELS if x not in gold][:1]
    record_answer(store, pid, annotator="g-a", answer="accept", labels=gold)
    record_answer(store, pid, annotator="g-b", answer="accept", labels=gold + other)
    queues = review.review_queues(ws)
    assert pid in {i["paragraph_id"] for i in queues["disagreements"]}
    differs = {i["paragraph_id"]: i for i in queues["differs_from_gold"]}
    assert differs[pid]["answers"] == {"g-b": sorted(gold + other, key=LABELS.index)}
    assert differs[pid]["differing_labels"] == other
    review.adjudicate(ws, pid, gold, reviewer="lead", note="the second label is not described")
    queues = review.review_queues(ws)
    assert pid not in {i["paragraph_id"] for i in queues["disagreements"]}
    assert pid in {i["paragraph_id"] for i in queues["differs_from_gold"]}  # still what agreement-with-gold counts


def test_model_vs_gold_has_one_item_per_paragraph(store, registry: Path) -> None:
    items = review.review_queues(Workspace.of(store, registry))["model_vs_gold"]
    assert len(items) == len({i["paragraph_id"] for i in items})
    assert all(i["conflicts"] and i["conflicts"][0]["label"] == i["label"] for i in items)
