"""Outputs never destroy inputs or good files: -o onto an input, a folder or a missing folder;
an export from a missing or empty store; spreadsheet formulas in CSV cells."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from classifier.classify import RecordWriter, csv_cell
from classifier.cli import cli
from classifier.labels.gold import codebook_records, write_labelled
from conftest import small_gold


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from classifier.training import train

    home = tmp_path_factory.mktemp("outputs")
    train(small_gold(), cv_repeats=0, registry=home / "models")
    return {"PMC_DATA_DIR": str(home), "PMC_MODELS_DIR": str(home / "models")}


def _run(*args: str, env: dict[str, str]):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_classify_refuses_to_write_onto_its_input(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"text": "Border police patrol."}) + "\n", encoding="utf-8")
    before = path.read_bytes()
    result = _run("classify", str(path), "-o", str(path), env=env)
    assert result.exit_code == 4
    assert result.stderr.strip() == f"Error: {path}: is also an input; write the output to another file"
    assert path.read_bytes() == before


@pytest.mark.parametrize("where", ["folder", "missing"])
def test_classify_output_into_a_folder_or_a_missing_folder_is_one_line(env: dict[str, str], tmp_path: Path,
                                                                        where: str) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"text": "x"}) + "\n", encoding="utf-8")
    target = tmp_path if where == "folder" else tmp_path / "nope" / "out.jsonl"
    result = _run("classify", str(path), "-o", str(target), env=env)
    assert result.exit_code == 4
    message = (f"Error: {target}: is a folder; give a file name for --output (e.g. {target / 'predictions.jsonl'})"
               if where == "folder" else
               f"Error: {target}: the folder {target.parent} does not exist; create it or write elsewhere")
    assert result.stderr.strip() == message


def test_an_interrupted_classify_leaves_the_old_output_and_no_litter(env: dict[str, str], tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from classifier import classify

    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"text": f"t{i}"}) + "\n" for i in range(5)), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_text("previous results\n", encoding="utf-8")

    def boom(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise KeyboardInterrupt

    monkeypatch.setattr(classify.RecordWriter, "write_batch", boom)
    monkeypatch.setattr(classify.RecordWriter, "write_rendered", boom)  # the batch path's writes
    CliRunner().invoke(cli, ["classify", str(path), "-o", str(out)], env=env)
    assert out.read_text(encoding="utf-8") == "previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "p.jsonl"]


def test_labels_export_never_creates_a_store_nor_empties_a_good_file(tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    write_labelled(codebook_records()[:5], gold)
    before = gold.read_bytes()
    missing = tmp_path / "typo.sqlite"
    result = _run("labels", "export", "--db", str(missing), "--out", str(gold), env={})
    assert result.exit_code == 7
    assert result.stderr.strip() == (f"Error: {missing}: no pmc store here; check --db (or PMC_DB), or ingest "
                                     f"documents first")
    assert not missing.exists() and gold.read_bytes() == before
    empty = tmp_path / "empty.sqlite"
    _run("ingest", str(tmp_path / "none.txt"), "--db", str(empty), env={"PMC_MODELS_DIR": str(tmp_path / "m")})
    result = _run("labels", "export", "--db", str(empty), "--out", str(gold), env={})
    assert result.exit_code == 5
    assert result.stderr.strip() == (f"Error: {gold}: not replaced — the store {empty} has no gold labels to write "
                                     f"and the file is not empty; pass --force to empty it anyway")
    assert gold.read_bytes() == before
    assert _run("labels", "export", "--db", str(empty), "--out", str(gold), "--force", env={}).exit_code == 0
    assert gold.read_bytes() == b""


def test_csv_cells_that_look_like_formulas_are_written_as_text() -> None:
    assert [csv_cell(x) for x in ("=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "ok", 3)] == [
        "'=1+1", "'+cmd", "'-2", "'@SUM(A1)", "'\tx", "ok", 3]
    buffer = io.StringIO()
    record = {"id": "=HYPERLINK(\"http://evil\")", "doc": "d", "index": 0, "lang": "en", "labels": [],
              "scores": {"a": 0.5}, "text": "=cmd|' /C calc'!A0"}
    RecordWriter(buffer, "csv", ("a",)).write_batch([record])
    row = list(csv.reader(io.StringIO(buffer.getvalue())))[1]
    assert row[0] == "'=HYPERLINK(\"http://evil\")" and row[-1] == "'=cmd|' /C calc'!A0"
