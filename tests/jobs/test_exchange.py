"""Answers and adjudications in and out of the store: `pmc answers import/export`, `pmc review
import`, `pmc labels export --with-answers --source real`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner

from classifier.cli import cli
from classifier.labels.gold import load_labelled
from classifier.store import annotations_for, latest_gold, open_store

ROWS = [
    {"id": None, "doc": "real/a", "index": 0, "text": "边检站在口岸查获持伪假护照人员3名。", "source_url": "http://example.org/a",
     "title": "边检快讯", "publisher": "某边检站", "date": "2024-05-01"},
    {"id": None, "doc": "real/a", "index": 1, "text": "民警沿边境线开展夜间巡逻。"},
    {"id": None, "doc": "real/b", "index": 0, "text": "The weather was fine all week.", "source_url": "http://example.org/b"},
]


def _corpus(tmp_path: Path) -> tuple[Path, list[str]]:
    from classifier.text.paragraph import paragraph_id

    path = tmp_path / "corpus.jsonl"
    ids = [paragraph_id(r["text"]) for r in ROWS]
    path.write_text("".join(json.dumps({**r, "id": pid}, ensure_ascii=False) + "\n" for r, pid in zip(ROWS, ids)),
                    encoding="utf-8")
    return path, ids


def _run(*args: str, env: dict[str, str]):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _write(path: Path, lines: list[object]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)) + "\n" for x in lines),
                    encoding="utf-8")
    return path


def test_answers_import_records_blind_tagged_answers_and_skips_bad_lines(tmp_path: Path) -> None:
    env = {"PMC_MODELS_DIR": str(tmp_path / "none")}
    db = str(tmp_path / "s.sqlite")
    corpus, ids = _corpus(tmp_path)
    assert _run("ingest", str(corpus), "--db", db, env=env).exit_code == 0
    answers = _write(tmp_path / "pass_a.jsonl", [
        {"id": ids[0], "labels": ["port_inspection"], "note": "checks at a port"},
        {"text": ROWS[1]["text"], "labels": ["border_patrol"]},
        {"id": ids[2], "labels": []},
        "{not json",
        {"id": "0000000000000000", "labels": []},
        {"id": ids[1], "labels": ["smuggling"]},
    ])
    result = _run("answers", "import", str(answers), "--annotator", "ann-a", "--db", db, env=env)
    assert result.exit_code == 10
    assert result.stdout.strip() == f"{answers}: 3 answers recorded for ann-a, 3 lines skipped"
    assert result.stderr.splitlines() == [
        f"skipped: {answers}:4: invalid JSON (Expecting property name enclosed in double quotes, column 2); fix or delete the line",
        f"skipped: {answers}:5: unknown paragraph '0000000000000000'; ingest its document first (pmc ingest)",
        f"skipped: {answers}:6: unknown label 'smuggling'; expected one of enforcement, port_inspection, "
        f"border_patrol, source_governance, international_cooperation",
    ]
    with open_store(db) as store:
        [answer] = annotations_for(store, ids[0])
    assert (answer.annotator, answer.labels, answer.note, answer.source, answer.model_version, answer.scores) == (
        "ann-a", ("port_inspection",), "checks at a port", "import:pass_a.jsonl", None, None)


def test_two_passes_a_review_and_an_export_with_answers_and_provenance(tmp_path: Path) -> None:
    env = {"PMC_MODELS_DIR": str(tmp_path / "none")}
    db = str(tmp_path / "s.sqlite")
    corpus, ids = _corpus(tmp_path)
    _run("ingest", str(corpus), "--db", db, env=env)
    _run("answers", "import", str(_write(tmp_path / "a.jsonl", [
        {"id": ids[0], "labels": ["port_inspection"]}, {"id": ids[1], "labels": ["border_patrol"]},
        {"id": ids[2], "labels": []}])), "--annotator", "a", "--db", db, env=env)
    _run("answers", "import", str(_write(tmp_path / "b.jsonl", [
        {"id": ids[0], "labels": ["port_inspection", "enforcement"]}, {"id": ids[1], "labels": ["border_patrol"]},
        {"id": ids[2], "labels": []}])), "--annotator", "b", "--db", db, env=env)
    decisions = _write(tmp_path / "decisions.jsonl", [
        {"id": ids[0], "labels": ["port_inspection"], "note": "interception at a port check, no case work"},
        {"id": ids[1], "labels": ["border_patrol"]},  # no note: refused
    ])
    result = _run("review", "import", str(decisions), "--reviewer", "lead", "--db", db, env=env)
    assert result.exit_code == 10
    assert result.stderr.strip() == (f"skipped: {decisions}: decision on {ids[1]} has no note; say why "
                                     f"(the reviewer's note is kept with the gold)")
    with open_store(db) as store:
        gold = latest_gold(store, [ids[0]])[ids[0]]
    assert (gold.labels, gold.reviewer, gold.source, gold.note) == (
        ("port_inspection",), "lead", "review", "interception at a port check, no case work")

    out = tmp_path / "real.jsonl"
    result = _run("labels", "export", "--db", db, "--include-labelled", "--with-answers", "--source", "real",
                  "--out", str(out), env=env)
    assert result.exit_code == 0, result.stderr
    records = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert records[ids[0]]["labels"] == ["port_inspection"] and records[ids[0]]["decision"] == "review"
    assert records[ids[0]]["answers"] == {"a": ["port_inspection"], "b": ["enforcement", "port_inspection"]}
    assert (records[ids[0]]["source_url"], records[ids[0]]["publisher"], records[ids[0]]["date"]) == (
        "http://example.org/a", "某边检站", "2024-05-01")
    assert records[ids[1]]["source"] == "real" and records[ids[1]]["decision"] == "agreement"
    assert records[ids[1]]["annotator"] == "a,b" and records[ids[1]]["source_url"] == "http://example.org/a"
    assert records[ids[2]]["labels"] == []
    assert [r.source for r in load_labelled(out)] == ["real", "real", "real"]

    exported = _run("answers", "export", "--db", db, "--format", "csv", env=env)
    table = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [(r["annotator"], r["paragraph_id"], r["labels"], r["source"]) for r in table] == [
        ("a", ids[0], "port_inspection", "import:a.jsonl"), ("a", ids[1], "border_patrol", "import:a.jsonl"),
        ("a", ids[2], "", "import:a.jsonl"), ("b", ids[0], "enforcement;port_inspection", "import:b.jsonl"),
        ("b", ids[1], "border_patrol", "import:b.jsonl"), ("b", ids[2], "", "import:b.jsonl")]


def test_answers_export_then_import_round_trips(tmp_path: Path) -> None:
    env = {"PMC_MODELS_DIR": str(tmp_path / "none")}
    corpus, ids = _corpus(tmp_path)
    first, second = str(tmp_path / "one.sqlite"), str(tmp_path / "two.sqlite")
    for db in (first, second):
        _run("ingest", str(corpus), "--db", db, env=env)
    _run("answers", "import", str(_write(tmp_path / "a.jsonl", [
        {"id": ids[0], "labels": ["port_inspection"], "note": "n1"}, {"id": ids[1], "answer": "flag", "labels": []}])),
        "--annotator", "a", "--db", first, env=env)
    dumped = _run("answers", "export", "--db", first, env=env).stdout
    back = tmp_path / "dump.jsonl"
    back.write_text("".join(json.dumps({"id": r["paragraph_id"], **{k: r[k] for k in ("labels", "answer", "note")}})
                            + "\n" for r in map(json.loads, dumped.splitlines())), encoding="utf-8")
    _run("answers", "import", str(back), "--annotator", "a", "--db", second, env=env)
    again = [json.loads(x) for x in _run("answers", "export", "--db", second, env=env).stdout.splitlines()]
    keep = ("paragraph_id", "doc", "index", "annotator", "answer", "labels", "note")
    assert [{k: r[k] for k in keep} for r in again] == [{k: r[k] for k in keep} for r in map(json.loads, dumped.splitlines())]
