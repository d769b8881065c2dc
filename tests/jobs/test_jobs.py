"""The jobs over a workspace: first start (`bootstrap`), retraining (`retraining`) and the corpus
of documents (`corpus`), on tiny stores and registries in tmp_path."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest

from classifier import corpus, retraining
from classifier.annotate import session
from classifier.bootstrap import bootstrap
from classifier.errors import InputError, ModelError
from classifier.labels.gold import default_unlabelled_path, load_labelled
from classifier.scoring.registry import active_version, list_models
from classifier.store import document_meta as store_meta, edit_document_meta, list_model_versions, open_store, read_scores
from classifier.workspace import Workspace
from conftest import LABELS, make_workspace, small_gold


# -- start-up --------------------------------------------------------------------------------


def test_bootstrap_seeds_imports_trains_and_scores(ready: tuple[Path, Path, dict]) -> None:
    db, registry, report = ready
    assert report["seeded"] is True
    assert report["documents"] == 5
    assert report["gold"]["added"] == len(small_gold())
    assert report["trained"] == report["active"] == active_version(registry=registry)
    with open_store(db) as store:
        total = len(corpus.documents(Workspace.of(store, registry), include_codebook=True))
        shipped = {json.loads(line)["doc"] for line in default_unlabelled_path().open(encoding="utf-8")}
        assert total == 5 + len(shipped) + len([r for r in small_gold() if r.source == "codebook"])
        summary = session.progress_summary(Workspace.of(store, registry))
        assert report["scored"] == summary["paragraphs"] + summary["codebook"]  # every paragraph is scored


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
    summary = session.progress_summary(Workspace.of(store, registry))
    assert len(scores) == summary["paragraphs"] + summary["codebook"]
    assert all(set(s) == set(LABELS) for s in scores.values())
    assert Workspace.of(store, registry).score_store() == 0  # nothing left to score


def test_bootstrap_without_enough_gold_trains_nothing(tmp_path: Path) -> None:
    report = bootstrap(tmp_path / "s.sqlite", registry=tmp_path / "m", gold=small_gold()[:3], cv_repeats=0)
    assert report["trained"] is None and report["active"] is None and report["scored"] == 0


# -- models ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_retrain_compare_promote_rollback_discard(tmp_path: Path) -> None:
    db, registry, report = make_workspace(tmp_path)
    first = report["active"]
    with open_store(db) as store:
        messages: list[str] = []
        card = retraining.retrain(Workspace.of(store, registry), by="ada", cv_repeats=1, progress=messages.append)
        candidate = card["version"]
        assert candidate != first and active_version(registry=registry) == first  # NOT activated
        assert any(m.startswith("cross-validating") for m in messages)
        assert candidate in {m["version"] for m in list_model_versions(store)}

        comparison = retraining.compare(Workspace.of(store, registry), candidate)
        assert [r["metric"] for r in comparison["rows"]] == [*LABELS, "macro_f1", "micro_f1"]
        assert all(0.0 <= r["candidate"] <= 1.0 for r in comparison["rows"])
        assert all(r["active"] is None for r in comparison["rows"])  # the first model had no CV
        assert comparison["sizes"]["candidate"] == card["training_data"]["size"]

        promoted = retraining.promote(Workspace.of(store, registry), candidate, by="ada")
        assert promoted == {"active": candidate, "previous": first, "scored": promoted["scored"]}
        summary = session.progress_summary(Workspace.of(store, registry))
        assert promoted["scored"] == summary["paragraphs"] + summary["codebook"]
        assert candidate == active_version(registry=registry)

        with pytest.raises(ModelError, match="is the active model; promote or roll back to another version first"):
            retraining.discard(Workspace.of(store, registry), candidate, by="ada")
        retraining.rollback(Workspace.of(store, registry), first, by="ada")
        assert active_version(registry=registry) == first
        with pytest.raises(ModelError, match="is already the active model"):
            retraining.rollback(Workspace.of(store, registry), first, by="ada")

        assert retraining.discard(Workspace.of(store, registry), candidate, by="ada")["discarded"] == candidate
        assert not (registry / candidate).exists()
        assert read_scores(store, candidate) == {}
        versions = {v["version"]: v for v in retraining.history(Workspace.of(store, registry))}
        assert versions[candidate]["available"] is False and versions[first]["active"] is True
        assert list(versions) == sorted(versions, reverse=True)


def test_retrain_refuses_too_little_gold(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.sqlite") as store:
        with pytest.raises(ModelError, match=r"s.sqlite: only 0 labelled paragraphs; label at least 20 before training"):
            retraining.retrain(Workspace.of(store, tmp_path / "m"), by="ada")


def test_retrain_with_cv_needs_enough_document_groups(tmp_path: Path) -> None:
    rows = [r for r in load_labelled() if r.doc in ("001_4fc425b8d83a2046", "003_068763a167a86ed9")]  # linked: 1 group
    with open_store(tmp_path / "s.sqlite") as store:
        bootstrap(store.path, registry=tmp_path / "m", gold=rows, cv_repeats=0, seeds_dir=tmp_path / "none")
        with pytest.raises(ModelError, match=r"the 49 labelled paragraphs come from 1 document group\(s\), too few "
                                             r"for 5-fold grouped cross-validation; train with --repeats 0"):
            retraining.retrain(Workspace.of(store, tmp_path / "m"), by="ada", cv_repeats=1)
        assert retraining.retrain(Workspace.of(store, tmp_path / "m"), by="ada", cv_repeats=0)["cv"] is None


def test_discard_refuses_paths_outside_the_registry(store, registry: Path, tmp_path: Path) -> None:
    for outside in (str(tmp_path), "../elsewhere", ".staging-x"):
        with pytest.raises(ModelError, match="is not a model version of the registry"):
            retraining.discard(Workspace.of(store, registry), outside, by="ada")


# -- documents -------------------------------------------------------------------------------

NOTE = (
    "边检机关加强口岸查缉\n\n"
    "边检站在口岸严格查验出入境人员证件，查获持伪假证件人员12名。\n\n"
    "公安机关侦破妨害国（边）境管理犯罪案件35起，抓获犯罪嫌疑人48名。\n\n"
    "移民管理机构与周边国家开展联合执法行动，遣返非法入境人员。\n"
)


def test_upload_segments_stores_and_classifies(store, registry: Path) -> None:
    result = corpus.upload(Workspace.of(store, registry), "notice.txt", NOTE.encode("utf-8"), by="ada")
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
    result = corpus.upload(Workspace.of(store, registry), "batch.jsonl", data, by="ada")
    assert result["docs"] == ["jl"] and result["paragraphs"] == 2
    assert result["skipped"] == ["batch.jsonl:2: invalid JSON (Expecting property name enclosed in double quotes"
                                 ", column 2); fix or delete the line"]


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
        corpus.upload(Workspace.of(store, registry), name, data, by="ada", max_bytes=1024)
    assert str(caught.value).startswith(message)


def test_download_csv_and_jsonl(store, registry: Path) -> None:
    corpus.upload(Workspace.of(store, registry), "dl.txt", NOTE.encode("utf-8"), by="ada")
    text = corpus.download(Workspace.of(store, registry), ["dl"], "csv")
    assert text.startswith("\ufeffid,doc,index,lang,labels,")  # Excel reads the BOM as "this is UTF-8"
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [r["index"] for r in rows] == ["0", "1", "2"]
    assert set(rows[0]) == {"id", "doc", "index", "lang", "labels", "text", *(f"score_{x}" for x in LABELS),
                            "date", "publisher", "campaigns", "source_url"}  # the document's metadata travels along
    records = [json.loads(line) for line in corpus.download(Workspace.of(store, registry), ["dl"], "jsonl").splitlines()]
    assert [r["text"] for r in records] == [r["text"] for r in rows]
    edit_document_meta(store, "dl", {"date": "2024-07-05", "campaign": "kunlun"})
    record = json.loads(corpus.download(Workspace.of(store, registry), ["dl"], "jsonl").splitlines()[0])
    assert (record["date"], record["campaigns"]) == ("2024-07-05", "kunlun")
    with pytest.raises(InputError, match="unknown download format 'xml'; use one of csv, jsonl"):
        corpus.download(Workspace.of(store, registry), ["dl"], "xml")


def test_ingest_path_reads_files_from_disk(store, registry: Path, tmp_path: Path) -> None:
    path = tmp_path / "disk_note.md"
    path.write_text(NOTE, encoding="utf-8")
    assert corpus.ingest_path(Workspace.of(store, registry), path, by="ada")["docs"] == ["disk_note"]
    with pytest.raises(InputError, match="is a directory"):
        corpus.ingest_path(Workspace.of(store, registry), tmp_path, by="ada")




def test_ingest_stores_extracted_metadata_and_a_records_fields_win(tmp_path: Path) -> None:
    db, registry, _ = make_workspace(tmp_path)
    with open_store(db) as store:
        ws = Workspace.of(store, registry)
        note = "新华社北京7月5日电 国家移民管理局通报，2024年“獴猎”行动开展以来成效明显。\n\n边检机关加强口岸查验。\n"
        corpus.upload(ws, "wire.txt", note.encode("utf-8"), by="ada")
        lines = [json.dumps({"doc": "given", "index": 0, "text": "The NIA said on July 3 that the Kunlun campaign went on.",
                             "date": "2023-07-03", "publisher": "Global Times"}),
                 json.dumps({"doc": "given", "index": 1, "text": "Police arrested 12 suspects."})]
        corpus.upload(ws, "given.jsonl", "\n".join(lines).encode("utf-8"), by="ada")
        meta = store_meta(store, ["wire", "given"])
    assert {k: meta["wire"][k] for k in ("date", "date_inferred", "publisher", "lang", "campaigns")} == {
        "date": "2024-07-05", "date_inferred": True, "publisher": "Xinhua", "lang": "zh",
        "campaigns": [{"id": "mongoose", "year": 2024}]}
    assert {k: meta["given"][k] for k in ("date", "publisher", "campaigns")} == {
        "date": "2023-07-03", "publisher": "Global Times", "campaigns": [{"id": "kunlun", "year": None}]}
    assert "date_inferred" not in meta["given"]
