"""Hostile JSONL lines never stop a run: each is reported with file:line, the good records are kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from classifier.cli import cli
from conftest import small_gold

BAD_LINES = [
    (b'{"text": "\\ud800 lone surrogate"}', "contains an unpaired surrogate escape (like \\ud800); fix the text's encoding"),
    (b"[" * 200_000, "JSON nested too deeply; flatten the record"),
    (b'{"text": "big index", "index": ' + b"1" + b"0" * 30 + b"}", "'index' is 1" + "0" * 30 + "; give a position between 0 and 2147483647"),
    (b'{"text": "not a number", "score": NaN}', "invalid JSON (NaN is not a number in JSON); write null or a number instead"),
    (b'{"text": "also not", "score": -Infinity}', "invalid JSON (-Infinity is not a number in JSON); write null or a number instead"),
    (b"x" * (1024 * 1024 + 10), "line is over 1024 KB; split the paragraph"),
]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from classifier.training import train

    home = tmp_path_factory.mktemp("hostile")
    train(small_gold(), cv_repeats=0, registry=home / "models")
    return {"PMC_DATA_DIR": str(home), "PMC_MODELS_DIR": str(home / "models")}


def _file(tmp_path: Path) -> Path:
    good = [json.dumps({"text": f"Border police patrol number {i}."}).encode() for i in range(3)]
    lines = [good[0], *[bad for bad, _ in BAD_LINES[:3]], good[1], *[bad for bad, _ in BAD_LINES[3:]], good[2]]
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_classify_reports_each_bad_line_and_writes_every_good_record(env: dict[str, str], tmp_path: Path) -> None:
    path = _file(tmp_path)
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(cli, ["classify", str(path), "-o", str(out)], env=env, catch_exceptions=False)
    assert result.exit_code == 10
    expected_lines = [2, 3, 4, 6, 7, 8]
    assert result.stderr.splitlines() == [
        *[f"skipped: {path}:{line}: {message}" for line, (_, message) in zip(expected_lines, BAD_LINES)],
        "6 input(s) skipped; 3 paragraphs written",
    ]
    written = [json.loads(x)["text"] for x in out.read_text(encoding="utf-8").splitlines()]
    assert written == [f"Border police patrol number {i}." for i in range(3)]


def test_ingest_keeps_the_good_records_of_a_hostile_file(env: dict[str, str], tmp_path: Path) -> None:
    path = _file(tmp_path)
    db = tmp_path / "s.sqlite"
    result = CliRunner().invoke(cli, ["ingest", str(path), "--db", str(db)], env=env, catch_exceptions=False)
    assert result.exit_code == 10
    assert f"{path}: 3 paragraphs (3 new), 3 scored" in result.stdout
    assert len([x for x in result.stderr.splitlines() if x.startswith("skipped:")]) == 6
