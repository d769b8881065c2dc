"""The app's service layer (`classifier.workspace`) on tiny stores and registries in tmp_path.

A module-scoped fixture bootstraps once with a small gold subset and no cross-validation, so the
suite stays fast; tests that change the registry (retrain, promote, discard) get their own.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest

from classifier import corpus, retraining
from classifier.annotate import codebook as codebook_view
from classifier.annotate import highlight, review, session
from classifier.bootstrap import bootstrap
from classifier.errors import EmptyPoolError, InputError, LabelDataError, ModelError
from classifier.labels.gold import LabelledParagraph, load_labelled
from classifier.scoring.registry import active_version, list_models
from classifier.store import annotations_for, latest_gold, list_model_versions, open_store, read_scores
from classifier.text.reader import read_document
from classifier.text.segmenter import segment
from classifier.workspace import Workspace

LABELS = ("enforcement", "port_inspection", "border_patrol", "source_governance", "international_cooperation")
# Gold for two seed documents and a sixth of the codebook examples: the other three seed
# documents (54 paragraphs) stay unlabelled for the queue.
GOLD_DOCS = ("002_6ae7b0e59d7fc9d5", "004_db64a1ae7bdd72cb")


def small_gold() -> list[LabelledParagraph]:
    rows = load_labelled()
    return [r for r in rows if r.source == "codebook"][::6] + [r for r in rows if r.doc in GOLD_DOCS]


def make_workspace(folder: Path, **options: object) -> tuple[Path, Path, dict]:
    db, registry = folder / "pmc.sqlite", folder / "models"
    report = bootstrap(db, registry=registry, gold=small_gold(), cv_repeats=0, **options)
    return db, registry, report


@pytest.fixture(scope="module")
def ready(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    return make_workspace(tmp_path_factory.mktemp("workspace"))


@pytest.fixture()
def store(ready: tuple[Path, Path, dict]):
    with open_store(ready[0]) as s:
        yield s


@pytest.fixture()
def registry(ready: tuple[Path, Path, dict]) -> Path:
    return ready[1]


# -- start-up --------------------------------------------------------------------------------


def test_bootstrap_seeds_imports_trains_and_scores(ready: tuple[Path, Path, dict]) -> None:
    db, registry, report = ready
    assert report["seeded"] is True
    assert report["documents"] == 5
    assert report["gold"]["added"] == len(small_gold())
    assert report["trained"] == report["active"] == active_version(registry=registry)
    with open_store(db) as store:
        total = len(corpus.documents(Workspace.of(store, registry), include_codebook=True))
        assert total == 5 + len([r for r in small_gold() if r.source == "codebook"])
        assert report["scored"] == session.progress_summary(Workspace.of(store, registry))["paragraphs"]


def test_bootstrap_again_is_fast_and_does_not_retrain(ready: tuple[Path, Path, dict]) -> None:
    db, registry, _ = ready
    started = time.perf_counter()
    report = bootstrap(db, registry=registry, gold=small_gold(), cv_repeats=0)
    assert time.perf_counter() - started < 3.0
    assert (report["seeded"], report["trained"], report["scored"]) == (False, None, 0)
    assert [c["version"] for c in list_models(registry=registry)] == [report["active"]]


def test_store_logs_the_registry_versions_and_the_registry_says_which_is_active(store, registry: Path) -> None:
    assert [m["version"] for m in list_model_versions(store)] == [active_version(registry=registry)]
    assert all("active" not in m for m in list_model_versions(store))  # one record of the active model


def test_every_paragraph_is_scored_for_the_active_model(store, registry: Path) -> None:
    version = active_version(registry=registry)
    scores = read_scores(store, version)
    assert len(scores) == session.progress_summary(Workspace.of(store, registry))["paragraphs"]
    assert all(set(s) == set(LABELS) for s in scores.values())
    assert Workspace.of(store, registry).score_store() == 0  # nothing left to score


def test_bootstrap_without_enough_gold_trains_nothing(tmp_path: Path) -> None:
    report = bootstrap(tmp_path / "s.sqlite", registry=tmp_path / "m", gold=small_gold()[:3], cv_repeats=0)
    assert report["trained"] is None and report["active"] is None and report["scored"] == 0


# -- labelling -------------------------------------------------------------------------------


def test_next_item_carries_suggestion_context_and_position(store, registry: Path) -> None:
    item = session.next_item(Workspace.of(store, registry), "ann-item", strategy="document")
    assert item.model_version == active_version(registry=registry)
    assert set(item.scores) == set(LABELS) and set(item.thresholds) == set(LABELS)
    assert item.suggested == tuple(x for x in LABELS if item.scores[x] >= item.thresholds[x])
    assert item.prefill == item.suggested
    paragraphs = segment(read_document(Path(__file__).parent.parent / "seeds" / f"{item.doc}.txt"))
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
    db, registry, _ = make_workspace(tmp_path, seeds_dir=tmp_path / "no-seeds")
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
    session.save_answer(Workspace.of(store, registry), item, annotator="rev-b", labels=second)  # a second annotator on the same paragraph
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


# -- models ----------------------------------------------------------------------------------


def test_retrain_compare_promote_rollback_discard(tmp_path: Path) -> None:
    db, registry, report = make_workspace(tmp_path)
    first = report["active"]
    with open_store(db) as store:
        messages: list[str] = []
        card = retraining.retrain(Workspace.of(store, registry), cv_repeats=1, progress=messages.append)
        candidate = card["version"]
        assert candidate != first and active_version(registry=registry) == first  # NOT activated
        assert any(m.startswith("cross-validating") for m in messages)
        assert candidate in {m["version"] for m in list_model_versions(store)}

        comparison = retraining.compare(Workspace.of(store, registry), candidate)
        assert [r["metric"] for r in comparison["rows"]] == [*LABELS, "macro_f1", "micro_f1"]
        assert all(0.0 <= r["candidate"] <= 1.0 for r in comparison["rows"])
        assert all(r["active"] is None for r in comparison["rows"])  # the first model had no CV
        assert comparison["sizes"]["candidate"] == card["training_data"]["size"]

        promoted = retraining.promote(Workspace.of(store, registry), candidate)
        assert promoted == {"active": candidate, "previous": first, "scored": promoted["scored"]}
        assert promoted["scored"] == session.progress_summary(Workspace.of(store, registry))["paragraphs"]
        assert candidate == active_version(registry=registry)

        with pytest.raises(ModelError, match="is the active model; promote or roll back to another version first"):
            retraining.discard(Workspace.of(store, registry), candidate)
        retraining.rollback(Workspace.of(store, registry), first)
        assert active_version(registry=registry) == first
        with pytest.raises(ModelError, match="is already the active model"):
            retraining.rollback(Workspace.of(store, registry), first)

        assert retraining.discard(Workspace.of(store, registry), candidate)["discarded"] == candidate
        assert not (registry / candidate).exists()
        assert read_scores(store, candidate) == {}
        versions = {v["version"]: v for v in retraining.history(Workspace.of(store, registry))}
        assert versions[candidate]["available"] is False and versions[first]["active"] is True
        assert list(versions) == sorted(versions, reverse=True)


def test_retrain_refuses_too_little_gold(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.sqlite") as store:
        with pytest.raises(ModelError, match=r"only 0 labelled paragraphs in .*; label or import at least 20"):
            retraining.retrain(Workspace.of(store, tmp_path / "m"))


def test_retrain_with_cv_needs_enough_document_groups(tmp_path: Path) -> None:
    rows = [r for r in load_labelled() if r.doc in ("001_4fc425b8d83a2046", "003_068763a167a86ed9")]  # linked: 1 group
    with open_store(tmp_path / "s.sqlite") as store:
        bootstrap(store.path, registry=tmp_path / "m", gold=rows, cv_repeats=0, seeds_dir=tmp_path / "none")
        with pytest.raises(ModelError, match=r"the 49 labelled paragraphs come from 1 document group\(s\), too few "
                                             r"for 5-fold grouped cross-validation; retrain with 0 CV repeats"):
            retraining.retrain(Workspace.of(store, tmp_path / "m"), cv_repeats=1)
        assert retraining.retrain(Workspace.of(store, tmp_path / "m"), cv_repeats=0)["cv"] is None


def test_discard_refuses_paths_outside_the_registry(store, registry: Path, tmp_path: Path) -> None:
    for outside in (str(tmp_path), "../elsewhere", ".staging-x"):
        with pytest.raises(ModelError, match="is not a model version of the registry"):
            retraining.discard(Workspace.of(store, registry), outside)


# -- documents -------------------------------------------------------------------------------

NOTE = (
    "边检机关加强口岸查缉\n\n"
    "边检站在口岸严格查验出入境人员证件，查获持伪假证件人员12名。\n\n"
    "公安机关侦破妨害国（边）境管理犯罪案件35起，抓获犯罪嫌疑人48名。\n\n"
    "移民管理机构与周边国家开展联合执法行动，遣返非法入境人员。\n"
)


def test_upload_segments_stores_and_classifies(store, registry: Path) -> None:
    result = corpus.upload(Workspace.of(store, registry), "notice.txt", NOTE.encode("utf-8"))
    assert result["docs"] == ["notice"] and result["paragraphs"] == 3 and result["scored"] == 3
    assert result["title"] == "边检机关加强口岸查缉"
    assert "notice" in {d["doc"] for d in corpus.documents(Workspace.of(store, registry))}
    records = corpus.predictions(Workspace.of(store, registry), ["notice"])
    assert [r["index"] for r in records] == [0, 1, 2]
    data = corpus.profiles(Workspace.of(store, registry), ["notice"])
    entry = data["documents"]["notice"]
    assert entry["n"] == 3 and set(entry["shares"]) == {*LABELS, "none"}
    for measure, share in entry["shares"].items():
        assert share == pytest.approx(len(entry["paragraphs"][measure]) / 3)
    labelled = {label for r in records for label in r["labels"]}
    assert all(entry["paragraphs"][label] for label in labelled)


def test_upload_jsonl_keeps_good_lines_and_reports_bad_ones(store, registry: Path) -> None:
    data = (
        json.dumps({"text": "海警局开展海上联合巡逻，严防偷渡。", "doc": "jl", "index": 0}, ensure_ascii=False) + "\n"
        + "{not json}\n"
        + json.dumps({"text": "Officers inspected travellers at the port of entry.", "doc": "jl", "index": 1}) + "\n"
    ).encode("utf-8")
    result = corpus.upload(Workspace.of(store, registry), "batch.jsonl", data)
    assert result["docs"] == ["jl"] and result["paragraphs"] == 2
    assert result["skipped"] == ["batch.jsonl:2: invalid JSON (Expecting property name enclosed in double quotes "
                                 "at column 2); fix or delete the line"]


@pytest.mark.parametrize(("name", "data", "message"), [
    ("x.txt", bytes(range(256)) * 2, "x.txt: looks like a binary file (it contains NUL bytes)"),
    ("empty.txt", b"", "empty.txt: the file is empty"),
    ("blank.txt", b"   \n\n  ", "blank.txt: no paragraphs found"),
    ("sheet.xlsx", b"PK\x03\x04", "sheet.xlsx: unsupported file type '.xlsx'; upload one of .txt, .md"),
    ("big.txt", b"a" * 2048, "big.txt: file is 2.0 KB, over the 1.0 KB upload limit"),
    ("bad.jsonl", b"{oops\n", "bad.jsonl: no usable JSONL records (first problem: bad.jsonl:1: invalid JSON"),
], ids=["binary", "empty", "blank", "unsupported", "oversized", "bad-jsonl"])
def test_upload_refuses_bad_files_with_a_clear_message(store, registry: Path, name: str, data: bytes,
                                                       message: str) -> None:
    with pytest.raises(InputError) as caught:
        corpus.upload(Workspace.of(store, registry), name, data, max_bytes=1024)
    assert str(caught.value).startswith(message)


def test_download_csv_and_jsonl(store, registry: Path) -> None:
    corpus.upload(Workspace.of(store, registry), "dl.txt", NOTE.encode("utf-8"))
    rows = list(csv.DictReader(io.StringIO(corpus.download(Workspace.of(store, registry), ["dl"], "csv"))))
    assert [r["index"] for r in rows] == ["0", "1", "2"]
    assert set(rows[0]) == {"id", "doc", "index", "lang", "labels", "text", *(f"score_{x}" for x in LABELS)}
    records = [json.loads(line) for line in corpus.download(Workspace.of(store, registry), ["dl"], "jsonl").splitlines()]
    assert [r["text"] for r in records] == [r["text"] for r in rows]
    with pytest.raises(InputError, match="unknown download format 'xml'; use one of csv, jsonl"):
        corpus.download(Workspace.of(store, registry), ["dl"], "xml")


def test_ingest_path_reads_files_from_disk(store, registry: Path, tmp_path: Path) -> None:
    path = tmp_path / "disk_note.md"
    path.write_text(NOTE, encoding="utf-8")
    assert corpus.ingest_path(Workspace.of(store, registry), path)["docs"] == ["disk_note"]
    with pytest.raises(InputError, match="is a directory"):
        corpus.ingest_path(Workspace.of(store, registry), tmp_path)


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

