"""The app-side CLI commands: `pmc app`, `pmc ingest`, `pmc labels export` and `pmc labels import`.

Run in-process through `classifier.cli.main` (the console-script entry point), so the exit codes
and one-line messages are the ones users see; `pmc app` runs with `subprocess.call` replaced.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from classifier import corpus
from classifier.bootstrap import bootstrap
from classifier.workspace import Workspace
from classifier.cli import main
from classifier.labels.gold import default_gold_path, load_labelled, write_labelled
from classifier.store import get_paragraphs, open_store, record_answer

ROOT = Path(__file__).resolve().parents[2]


def pmc(*args: str) -> int:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    return int(done.value.code or 0)


def test_labels_import_then_export_is_lossless(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, out = str(tmp_path / "s.sqlite"), tmp_path / "gold.jsonl"
    gold = default_gold_path()
    n = len(load_labelled(gold))
    assert pmc("labels", "import", str(gold), "--db", db) == 0
    assert capsys.readouterr().out == f"{gold}: {n} records, {n} added, 0 unchanged, {n} new paragraphs\n"
    assert pmc("labels", "import", str(gold), "--db", db) == 0
    assert capsys.readouterr().out == f"{gold}: {n} records, 0 added, {n} unchanged, 0 new paragraphs\n"
    assert pmc("labels", "export", "--db", db, "--out", str(out)) == 0
    assert capsys.readouterr().out == f"{out}: {n} records\n"
    assert out.read_bytes() == gold.read_bytes()  # annotators, sources, notes, groups and extras included


def test_labels_export_can_include_undisputed_answers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, out = tmp_path / "s.sqlite", tmp_path / "gold.jsonl"
    rows = load_labelled()[:30]
    pmc("labels", "import", str(_write(tmp_path / "in.jsonl", rows)), "--db", str(db))
    with open_store(db) as store:
        corpus.upload(Workspace.of(store, tmp_path / "m"), "note.txt", "边检站查获偷渡人员5名。\n\n海警巡逻。\n".encode("utf-8"), by="ada")
        target = next(p.id for p in get_paragraphs(store).values() if p.doc == "note")
        record_answer(store, target, annotator="ann", answer="accept", labels=["port_inspection"])
    assert pmc("labels", "export", "--db", str(db), "--out", str(out), "--include-labelled") == 0
    exported = load_labelled(out)
    assert len(exported) == 31
    assert (exported[-1].id, exported[-1].labels, exported[-1].annotator, exported[-1].source) == (
        target, ("port_inspection",), "ann", "annotation")


def _write(path: Path, rows: list) -> Path:
    write_labelled(rows, path)
    return path


def test_ingest_adds_good_files_and_reports_bad_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "notice.md"
    good.write_text("边检机关加强口岸查缉\n\n边检站查获持伪假证件人员12名。\n\n公安机关侦破案件35起。\n", encoding="utf-8")
    binary = tmp_path / "x.txt"
    binary.write_bytes(bytes(range(256)))
    missing = tmp_path / "missing.pdf"
    code = pmc("ingest", str(good), str(binary), str(missing), "--db", str(tmp_path / "s.sqlite"))
    captured = capsys.readouterr()
    assert code == 10
    assert captured.out == f"{good}: 2 paragraphs (2 new), 0 scored\n"
    assert captured.err.splitlines() == [
        f"skipped: {binary}: looks like a binary file (it contains NUL bytes), not text; pass a "
        f".txt/.md/.html/.docx/.pdf document or a .jsonl file",
        f"skipped: {missing}: cannot read the file (No such file or directory); check the path",
    ]


def test_app_bootstraps_then_runs_streamlit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    rows = load_labelled()
    db, registry = tmp_path / "s.sqlite", tmp_path / "models"
    bootstrap(db, registry=registry, gold=[r for r in rows if r.source == "codebook"][::8], cv_repeats=0)
    monkeypatch.setenv("PMC_MODELS_DIR", str(registry))
    calls: list[tuple[list[str], dict]] = []
    monkeypatch.setattr(subprocess, "call", lambda command, **kwargs: calls.append((command, kwargs)) or 0)
    assert pmc("app", "--db", str(db), "--port", "8599") == 0
    (command, options), = calls
    assert command == [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
        "--server.port", "8599", "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
        "--", "--db", str(db.resolve()),
    ]
    assert options["cwd"] == ROOT and options["env"]["PMC_DB"] == str(db.resolve())
    assert "active model 2" in capsys.readouterr().err  # the bootstrapped version, e.g. 2026...Z


@pytest.mark.parametrize("command", [("app",), ("ingest",), ("labels", "export"), ("labels", "import")])
def test_help_has_an_example(command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert pmc(*command, "--help") == 0
    assert "Example:" in capsys.readouterr().out


def test_users_commands_manage_roles_and_refuse_non_admins(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "team.sqlite")
    assert pmc("users", "add", "bob", "--role", "annotator", "--db", db) == 11
    assert capsys.readouterr().err == ("Error: the first user of a store must be an admin (adding bob as annotator); "
                                       "add yourself first: `pmc users add NAME --role admin`\n")
    assert pmc("users", "add", "ada", "--role", "admin", "--db", db) == 0
    monkeypatch.setenv("PMC_USER", "ada")
    assert pmc("users", "add", "bob", "--role", "annotator", "--db", db) == 0
    assert pmc("users", "set-role", "bob", "reviewer", "--db", db) == 0
    assert pmc("users", "disable", "bob", "--db", db) == 0
    capsys.readouterr()
    assert pmc("users", "list", "--db", db) == 0
    assert capsys.readouterr().out == "ada\tadmin\nbob\treviewer\tdisabled\n"
    monkeypatch.setenv("PMC_USER", "bob")
    assert pmc("users", "enable", "bob", "--db", db) == 11
    assert capsys.readouterr().err == "Error: bob is disabled on this pmc store and may not retrain, promote, roll back, upload or manage users\n"
    assert pmc("ingest", str(ROOT / "seeds" / "000_24ba927b92883e99.txt"), "--db", db) == 10  # skipped: not an admin
    assert "bob is disabled" in capsys.readouterr().err


def test_db_copy_and_info_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, target = tmp_path / "one.sqlite", tmp_path / "two.sqlite"
    with open_store(source) as store:
        corpus.upload(Workspace.of(store, tmp_path / "m"), "note.txt", "边检站查获偷渡人员5名。\n\n海警巡逻。\n".encode("utf-8"),
                      by="ada")
    assert pmc("db", "copy", str(source), str(target)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["paragraphs", "2"] and out[-1] == f"copied {source} -> {target}; counts checked"
    assert pmc("db", "copy", str(source), str(target)) == 7
    assert "is not empty (documents 1, paragraphs 2, positions 2)" in capsys.readouterr().err
    assert pmc("db", "info", "--db", str(target)) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"{target}: sqlite, schema version 5"
    assert pmc("db", "init", str(target)) == 7
    assert capsys.readouterr().err == (f"Error: {target} is not a postgresql:// URL; an SQLite store needs no init "
                                       f"(it is created on use)\n")
