"""Files that are not files, litter from killed saves, and training data that can only give a
useless model: each a one-line error or a clean-up, never a hang or a silent bad model."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from classifier.cli import cli
from classifier.errors import InputError
from classifier.labels.gold import codebook_records, write_labelled
from classifier.scoring.registry import sweep_staging
from classifier.text.reader import read_document, read_file_bytes


def _run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env or {}, catch_exceptions=False)


def test_a_fifo_and_a_device_are_refused_before_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"pipe.txt: not a regular file \(a pipe, device or socket\)"):
        read_document(fifo)  # would block forever if it were opened
    with pytest.raises(InputError, match=r"/dev/zero: not a regular file"):
        read_file_bytes("/dev/zero")


def test_reads_stop_at_the_limit(tmp_path: Path) -> None:
    import io

    from classifier.text.reader import read_stream_bytes

    with pytest.raises(InputError, match=r"stdin: file is more than 0.0 MB, over the 0 MB limit"):
        read_stream_bytes(io.BytesIO(b"a" * 10_000), name="stdin", max_bytes=1024)
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * 2048)
    with pytest.raises(InputError, match=r"big.txt: file is 0.0 MB, over the 0 MB limit"):
        read_file_bytes(big, max_bytes=1024)


def test_ingest_reads_a_file_without_an_extension_as_text(tmp_path: Path) -> None:
    note = tmp_path / "NOTICE"
    note.write_text("边检站在口岸查获持伪假护照人员3名。\n", encoding="utf-8")
    result = _run("ingest", str(note), "--db", str(tmp_path / "s.sqlite"), env={"PMC_MODELS_DIR": str(tmp_path / "m")})
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"{note}: 1 paragraphs (1 new), 0 scored"


def test_stale_staging_folders_of_killed_saves_are_swept(tmp_path: Path) -> None:
    old, fresh = tmp_path / ".staging-old", tmp_path / ".staging-new"
    old.mkdir()
    fresh.mkdir()
    (tmp_path / ".active-x").write_text("v\n")
    past = time.time() - 7200
    os.utime(old, (past, past))
    os.utime(tmp_path / ".active-x", (past, past))
    assert sorted(sweep_staging(registry=tmp_path)) == [".active-x", ".staging-old"]
    assert fresh.exists() and not old.exists()


@pytest.mark.parametrize(("rows", "message"), [
    (3, "Error: only 3 labelled paragraphs; label at least 20 before training"),
    ("none", "Error: none of the 40 labelled paragraphs has a label (all are 'none'); a model trained on them "
             "would never predict anything — label some positives first"),
])
def test_training_refuses_useless_data_with_one_line(tmp_path: Path, rows: object, message: str) -> None:
    from dataclasses import replace

    records = codebook_records()
    records = records[:3] if rows == 3 else [replace(r, labels=()) for r in records[:40]]
    gold = tmp_path / "g.jsonl"
    write_labelled(records, gold)
    result = _run("train", "--gold", str(gold), "--repeats", "0", "--out", str(tmp_path / "m"))
    assert result.exit_code == 6
    assert result.stderr.strip().splitlines()[-1] == message
    assert not (tmp_path / "m" / "ACTIVE").exists()


def test_two_documents_with_one_file_name_stay_two_and_a_re_ingest_is_idempotent(tmp_path: Path) -> None:
    from classifier.store import list_documents, open_store

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "report.txt").write_text("边检站在口岸查获持伪假护照人员3名。\n", encoding="utf-8")
    (b / "report.txt").write_text("Border police patrolled the river at night.\n", encoding="utf-8")
    db = tmp_path / "s.sqlite"
    env = {"PMC_MODELS_DIR": str(tmp_path / "m")}
    for _ in range(2):
        assert _run("ingest", str(a / "report.txt"), str(b / "report.txt"), "--db", str(db), env=env).exit_code == 0
    with open_store(db) as store:
        docs = [(doc, n) for doc, _title, _fmt, _added, n, _first in list_documents(store)]
    assert len(docs) == 2 and docs[0] == ("report", 1) and docs[1][0].startswith("report~") and docs[1][1] == 1


@pytest.mark.parametrize("command", ["segment", "ingest"])
def test_stdin_is_read_by_classify_only(command: str, tmp_path: Path) -> None:
    extra = ["--db", str(tmp_path / "s.sqlite")] if command == "ingest" else []
    result = _run(command, "-", *extra)
    assert result.exit_code == 4
    assert result.stderr.strip() == ("Error: '-' (standard input) is read by `pmc classify` only; save the text "
                                     "to a file and pass its path")


@pytest.mark.parametrize("name", ["../elsewhere/v1", "/tmp/x", ".staging-1", "v1/../../x"])
def test_activating_a_path_instead_of_a_version_name_is_refused(name: str, tmp_path: Path) -> None:
    result = _run("models", "--activate", name, env={"PMC_MODELS_DIR": str(tmp_path)})
    assert result.exit_code == 6
    assert result.stderr.strip() == (f"Error: {name!r} is not a model version name (letters, digits, '.', '_', "
                                     f"'-'); see `pmc models` for the list")


def test_a_docx_zip_bomb_is_refused_before_any_part_is_unpacked(tmp_path: Path) -> None:
    import zipfile

    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            chunk = b"<w:t>" + b"a" * (1 << 20)
            for _ in range(120):  # ~120 MB of XML, a few hundred KB on disk
                member.write(chunk)
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(InputError, match=r"bomb.docx: the .docx unpacks to 120 MB from 0.1 MB \(a zip bomb"):
        read_document(bomb)


TEXT_ZH = "国家移民管理局加强口岸查验，严厉打击妨害国（边）境管理犯罪。一季度共办理案件6968起。\n" * 20


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_chinese_utf16_without_a_bom_is_read(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "zh.txt"
    path.write_bytes(TEXT_ZH.encode(encoding))
    document = read_document(path)
    assert (document.encoding, document.text, document.warnings) == (encoding, TEXT_ZH, ())


def test_one_broken_byte_is_replaced_with_a_warning_not_a_refusal(tmp_path: Path) -> None:
    data = TEXT_ZH.encode("utf-8")
    path = tmp_path / "broken.txt"
    path.write_bytes(data[:100] + b"\xff" + data[101:])
    document = read_document(path)
    assert document.encoding == "utf-8" and document.text.count("\ufffd") == 3
    assert document.warnings == (f"{path}: 3 byte sequence(s) are not UTF-8 (the first at byte 99); they were "
                                 f"replaced with \ufffd — check the file if text is missing",)
    result = _run("segment", str(path))
    assert result.exit_code == 0 and result.stderr.startswith(f"warning: {path}: 3 byte sequence(s)")


def test_korean_is_named_not_read_as_chinese(tmp_path: Path) -> None:
    path = tmp_path / "kr.txt"
    path.write_bytes(("국가 이민 관리국은 국경 검사를 강화했다. 밀수 조직을 적발했다.\n" * 20).encode("euc-kr"))
    result = _run("segment", str(path))
    assert result.exit_code == 4
    assert result.stderr.strip() == (f"Error: {path}: looks like Korean text (cp949); pmc codes Chinese and "
                                     f"English documents — if it is Chinese, re-save it as UTF-8")


def test_a_full_disk_is_one_line_and_keeps_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from classifier.errors import LabelDataError
    from classifier.labels import gold as gold_module

    target = tmp_path / "gold.jsonl"
    write_labelled(codebook_records()[:3], target)
    before = target.read_bytes()

    def full(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gold_module.os, "fsync", full)
    with pytest.raises(LabelDataError) as caught:
        write_labelled(codebook_records()[:5], target)
    assert str(caught.value) == (f"{target}: cannot write the file (No space left on device); free disk space or "
                                 f"write elsewhere; the previous file is unchanged")
    assert target.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["gold.jsonl"]


def test_a_full_store_is_one_line_and_keeps_what_was_saved(tmp_path: Path) -> None:
    from classifier.errors import StoreError
    from classifier.store import get_paragraphs, ingest_paragraphs, open_store
    from classifier.text.paragraph import Paragraph, paragraph_id

    def paragraphs(prefix: str, n: int) -> list[Paragraph]:
        texts = [f"{prefix} paragraph {i} " + "x" * 2000 for i in range(n)]
        return [Paragraph(paragraph_id(t), prefix, i, t, "en") for i, t in enumerate(texts)]

    with open_store(tmp_path / "s.sqlite") as store:
        ingest_paragraphs(store, paragraphs("kept", 3))
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # the disk is now "full"
        with pytest.raises(StoreError) as caught:
            ingest_paragraphs(store, paragraphs("lost", 50))
        assert str(caught.value) == (f"{store.path}: cannot write the store (database or disk is full); check the "
                                     f"disk and permissions")
        assert sorted(p.doc for p in get_paragraphs(store).values()) == ["kept", "kept", "kept"]


def test_temporary_files_of_killed_exports_are_swept_by_the_next_write(tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    stale, fresh = tmp_path / ".gold.jsonl.abc.tmp", tmp_path / ".gold.jsonl.new.tmp"
    stale.write_text("half")
    fresh.write_text("in progress")
    past = time.time() - 7200
    os.utime(stale, (past, past))
    write_labelled(codebook_records()[:2], gold)
    assert not stale.exists() and fresh.exists()


def _enospc(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
    import errno

    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_in_classify_output_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from classifier import classify

    monkeypatch.setattr(classify.os, "fsync", _enospc)
    path = tmp_path / "in.txt"
    path.write_text("Border police patrolled the river.\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    from classifier.errors import InputError as _InputError

    with pytest.raises(_InputError) as caught, classify.open_output(out, inputs=[path]) as handle:
        handle.write("x\n")
    assert str(caught.value) == (f"{out}: cannot write the output (No space left on device); check the disk and "
                                 f"the folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


def test_a_full_disk_while_saving_a_model_is_one_line_and_keeps_the_active_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import joblib

    from conftest import small_gold

    gold = tmp_path / "g.jsonl"
    write_labelled(small_gold(), gold)
    monkeypatch.setattr(joblib, "dump", _enospc)
    result = _run("train", "--gold", str(gold), "--repeats", "0", "--out", str(tmp_path / "m"))
    assert result.exit_code == 6
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: {tmp_path / 'm'}: cannot save the model version (No space left on device); free disk space or "
        f"pass another --out; the active model is unchanged")
    assert [p.name for p in (tmp_path / "m").iterdir()] == [".pmc-registry"]


def test_version_folders_are_readable_and_gold_keeps_its_mode(tmp_path: Path) -> None:
    from conftest import small_gold

    gold = tmp_path / "g.jsonl"
    write_labelled(small_gold(), gold)
    gold.chmod(0o640)
    write_labelled(small_gold()[:30], gold)
    assert gold.stat().st_mode & 0o777 == 0o640
    assert _run("train", "--gold", str(gold), "--repeats", "0", "--out", str(tmp_path / "m")).exit_code == 0
    [version] = [p for p in (tmp_path / "m").iterdir() if p.is_dir()]
    assert version.stat().st_mode & 0o777 == 0o755


def test_ingest_never_imports_scikit_learn(tmp_path: Path) -> None:
    import subprocess
    import sys

    from conftest import ROOT, small_gold
    from classifier.training import train

    train(small_gold(), cv_repeats=0, registry=tmp_path / "m")
    note = tmp_path / "note.txt"
    note.write_text("边检站在口岸查获持伪假护照人员3名。\n", encoding="utf-8")
    code = ("import sys; from classifier.corpus import ingest_path; from classifier.workspace import Workspace; "
            f"ws = Workspace.open({str(tmp_path / 's.sqlite')!r}, registry={str(tmp_path / 'm')!r}); "
            f"r = ingest_path(ws, {str(note)!r}, by='ada'); print(r['scored'], 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["1", "False"]


def test_a_pdf_bomb_is_refused_by_pypdfs_limits_as_one_line(tmp_path: Path) -> None:
    from conftest import pdf_with_stream

    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(pdf_with_stream(b"BT /F1 12 Tf 72 720 Td (x) Tj ET " + b" " * 90_000_000, flate=True))
    assert bomb.stat().st_size < 200_000
    result = _run("segment", str(bomb))
    assert result.exit_code == 4
    assert result.stderr.strip().startswith(f"Error: {bomb}: a stream of the PDF unpacks beyond pypdf's limits")


def test_pypdf_warnings_never_reach_stderr(tmp_path: Path) -> None:
    from conftest import tiny_pdf

    broken = tmp_path / "w.pdf"  # a wrong startxref: pypdf warns while it recovers the document
    broken.write_bytes(tiny_pdf(["Border police patrolled the river."]).replace(b"startxref\n", b"startxref\n9"))
    result = _run("segment", str(broken))
    assert result.exit_code == 0 and result.stderr == ""
    assert '"text": "Border police patrolled the river."' in result.stdout
