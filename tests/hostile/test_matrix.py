"""Every command against a generated corpus of hostile inputs: no traceback, a documented exit code,
one line per problem naming the input, the good records written, nothing outside the output touched."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from classifier.cli import cli
from conftest import small_gold

EXIT_CODES = {0, 4, 5, 10}
ZH = "国家移民管理局加强口岸查验，严厉打击妨害国（边）境管理犯罪。一季度共办理案件6968起。\n" * 5


def _hostile(folder: Path) -> list[Path]:
    folder.mkdir()
    files = {
        "gb18030.txt": ZH.encode("gb18030"),
        "big5.txt": "國家移民管理局加強口岸查驗。\n".encode("big5") * 5,
        "utf16-nobom.txt": ZH.encode("utf-16-le"),
        "korean.txt": ("국가 이민 관리국은 국경 검사를 강화했다.\n" * 10).encode("euc-kr"),
        "binary.txt": b"\x00\x01\x02\x03PNG\x89" * 50,
        "empty.txt": b"",
        "noext": "Border police patrolled the river.\n".encode(),
        "digits.txt": ("138 0013 8000 139 0013 8000 137 0013 8000 x\n" * 3).encode(),
        "dots.txt": b"." * 30_000,
        "injection.html": (b"<html><head><title>![p](http://127.0.0.1:9/p.png) **x**</title></head><body><article>"
                           b"<p>=cmd|' /C calc'!A0 Border police patrolled the river at night.</p></article></body></html>"),
        "deep.jsonl": b'{"text": "ok"}\n' + b"[" * 100_000 + b'\n{"text": "\\ud800"}\n{"text": "n", "x": NaN}\n',
        "formulas.jsonl": json.dumps({"text": "=HYPERLINK(\"http://evil\") border patrol", "doc": "=x"}).encode() + b"\n",
    }
    paths = []
    for name, data in files.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    bomb = folder / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive, \
            archive.open("word/document.xml", "w", force_zip64=True) as member:
        for _ in range(110):
            member.write(b"a" * (1 << 20))
    fifo = folder / "pipe.txt"
    os.mkfifo(fifo)
    twin_a, twin_b = folder / "a", folder / "b"
    twin_a.mkdir()
    twin_b.mkdir()
    (twin_a / "report.txt").write_text("边检站查获伪造证件。\n", encoding="utf-8")
    (twin_b / "report.txt").write_text("Border police patrolled the river.\n", encoding="utf-8")
    return [*paths, bomb, fifo, twin_a / "report.txt", twin_b / "report.txt"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], dict[str, str]]:
    from classifier.training import train

    home = tmp_path_factory.mktemp("matrix")
    train(small_gold(), cv_repeats=0, registry=home / "models")
    return home, _hostile(home / "in"), {"PMC_DATA_DIR": str(home), "PMC_MODELS_DIR": str(home / "models")}


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, int(p.stat().st_mtime_ns)) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("command", ["segment", "classify", "ingest"])
def test_each_command_survives_the_hostile_corpus(corpus: tuple[Path, list[Path], dict[str, str]],
                                                  command: str, tmp_path: Path) -> None:
    home, inputs, env = corpus
    before = _snapshot(home / "in")
    out = tmp_path / "out.csv"
    args = {"segment": [], "classify": ["--format", "csv", "-o", str(out)], "ingest": ["--db", str(tmp_path / "s.sqlite")]}
    for path in inputs:
        if command == "segment" and path.suffix == ".jsonl":
            continue  # segment reads documents; JSONL paragraphs go to classify and ingest
        result = CliRunner().invoke(cli, [command, str(path), *args[command]], env=env)
        assert result.exit_code in EXIT_CODES, (path.name, result.exit_code, result.output)
        assert not (result.exception and not isinstance(result.exception, SystemExit)), (path.name, result.exception)
        problems = [line for line in result.stderr.splitlines() if line.startswith(("Error:", "skipped:", "warning:"))]
        assert all(str(path) in line for line in problems), (path.name, problems)
        if result.exit_code != 0:
            assert problems, (path.name, result.stderr)
    assert _snapshot(home / "in") == before  # inputs untouched
    assert {p.name for p in tmp_path.iterdir()} <= {"out.csv", "s.sqlite", "s.sqlite-wal", "s.sqlite-shm"}
    if command == "classify":
        text = out.read_text(encoding="utf-8")
        assert "\n=" not in text and ",=" not in text  # formulas arrive as text


def test_labels_import_skips_hostile_lines_and_imports_the_good_ones(corpus: tuple[Path, list[Path], dict[str, str]],
                                                                   tmp_path: Path) -> None:
    from classifier.store import latest_gold, open_store
    from classifier.text.paragraph import paragraph_id

    _home, _inputs, env = corpus
    gold = tmp_path / "gold.jsonl"
    gold.write_bytes(b'{"text": "first ok", "labels": []}\n' + b"[" * 100_000 + b'\n{"text": "\\ud800", "labels": []}\n'
                     b'{"text": "x", "labels": ["smuggling"]}\n{"text": "last ok", "labels": ["border_patrol"]}\n')
    db = tmp_path / "s.sqlite"
    result = CliRunner().invoke(cli, ["labels", "import", str(gold), "--db", str(db)], env=env)
    assert result.exit_code == 10
    assert result.stderr.splitlines() == [
        f"skipped: {gold}:2: JSON nested too deeply; flatten the record",
        f"skipped: {gold}:3: contains an unpaired surrogate escape (like \\ud800); fix the text's encoding",
        f"skipped: {gold}:4: unknown label 'smuggling'; expected one of enforcement, port_inspection, border_patrol, "
        f"source_governance, international_cooperation (edit the record or add the label to labels/taxonomy.toml)",
    ]
    with open_store(db) as store:
        kept = latest_gold(store)
    assert sorted(g.labels for g in kept.values()) == [(), ("border_patrol",)]
    assert set(kept) == {paragraph_id("first ok"), paragraph_id("last ok")}
