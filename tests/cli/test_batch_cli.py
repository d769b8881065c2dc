"""`pmc classify` on the batch path gives the per-paragraph path's records; --jobs and --engine
dask give the same bytes as one process, bad lines still reported as file:line with exit 10."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from classifier import cluster, pipeline
from classifier.classify import classify_stream, iter_paragraphs
from classifier.cli import cli
from classifier.scoring.registry import install_shipped, load_serving

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("batch")
    install_shipped(ROOT / "models" / "shipped", registry=home / "models")
    return {"PMC_DATA_DIR": str(home), "PMC_MODELS_DIR": str(home / "models")}


def _corpus(folder: Path) -> Path:
    """Records of every shape: ids and docs given or not, lang given or not, extras of every JSON
    type, indices, Traditional/full-width/mixed text, blank and bad lines between them."""
    texts = ["边检站加强口岸查缉，严防偷渡人员闯关出境。", "邊檢站加強口岸查緝，嚴防偷渡人員闖關出境。",
             "Border police patrolled the ports of entry.", "ＰＯＲＴ　ＯＦ　ＥＮＴＲＹ 口岸 1,461 人次 🚓",
             "cafe\u0301 smuggling ring 走私团伙 2024年", "国（边）境 妨害国(边)境管理"]
    lines = []
    for i in range(60):
        record: dict = {"text": texts[i % len(texts)] + f" #{i}"}
        if i % 2:
            record["id"] = f"p{i}"
        if i % 3 == 0:
            record["doc"] = f"d{i % 4}"
        if i % 5 == 0:
            record["lang"] = "zh"
        if i % 7 == 0:
            record["index"] = i * 10
        if i % 4 == 1:
            record.update(score=1.5, tags=["a", {"b": None}], big=10**30, ok=True, note="“quoted”")
        lines.append(json.dumps(record, ensure_ascii=False))
        if i == 10:
            lines += ["", "{broken", '{"text": ""}', '[1, 2]', '{"text": "x", "index": -1}']
        if i == 40:
            lines += ['{"text": "\\ud800 lone"}', '{"text": "NaN", "v": NaN}']
    path = folder / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _invoke(env: dict[str, str], *args: str, stdin: bytes | None = None, env_extra: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["classify", *args], env={**env, **(env_extra or {})}, input=stdin,
                              catch_exceptions=False)


def _reference(env: dict[str, str], inputs: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[list[dict], list[str]]:
    """Records and messages of the per-paragraph path (`classify.classify_stream`)."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    saved = load_serving(None)
    errors: list[str] = []
    records = [r for batch in classify_stream(iter_paragraphs(inputs, on_error=errors.append), model=saved.model,
                                              labels=saved.labels, batch_size=7) for r in batch]
    return json.loads(json.dumps(records)), errors


def test_the_batch_path_gives_the_per_paragraph_records(env: dict[str, str], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = _corpus(tmp_path)
    document = tmp_path / "report.txt"
    document.write_text("标题\n\n边检站加强口岸查缉。\n\nPatrols at the border line.\n", encoding="utf-8")
    monkeypatch.setattr(pipeline, "CHUNK_SIZE", 9)  # many chunks, records cut anywhere
    result = _invoke(env, str(corpus), str(document), "-o", str(tmp_path / "out.jsonl"))
    reference, errors = _reference(env, [str(corpus), str(document)], monkeypatch)
    assert result.exit_code == 10
    assert result.stderr.splitlines() == [*[f"skipped: {e}" for e in errors],
                                          f"{len(errors)} input(s) skipped; {len(reference)} paragraphs written"]
    assert [e.split(": ")[0] for e in errors] == [f"{corpus}:{n}" for n in (13, 14, 15, 16, 47, 48)]
    written = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert written == reference


def test_stdin_csv_and_threshold_scale_match_the_reference(env: dict[str, str], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = _corpus(tmp_path)
    piped = _invoke(env, "-", "--threshold-scale", "0.5", stdin=corpus.read_bytes())
    from_file = _invoke(env, str(corpus), "--threshold-scale", "0.5")
    assert piped.exit_code == from_file.exit_code == 10
    assert "skipped: <stdin>:13: invalid JSON" in piped.stderr
    lines = [json.loads(x) for x in piped.stdout.splitlines()]
    assert [(r["id"], r["labels"]) for r in lines] == [(r["id"], r["labels"]) for r in map(json.loads, from_file.stdout.splitlines())]
    assert {r["doc"] for r in lines if "doc" not in r or r["doc"].startswith("std")} <= {"stdin"}
    csv_one = _invoke(env, str(corpus), "--format", "csv")
    monkeypatch.setattr(pipeline, "CHUNK_SIZE", 5)
    csv_many = _invoke(env, str(corpus), "--format", "csv")
    assert csv_one.stdout == csv_many.stdout and csv_one.stdout.startswith("id,doc,index,lang,labels,score_")


def _spools() -> set[str]:
    import glob
    import tempfile

    return set(glob.glob("/dev/shm/pmc-spool-*")) | set(glob.glob(f"{tempfile.gettempdir()}/pmc-spool-*"))


def test_jobs_give_the_same_bytes(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = _corpus(tmp_path)
    monkeypatch.setattr(pipeline, "CHUNK_SIZE", 11)
    monkeypatch.setattr(pipeline, "PARTITION_LINES", 7)  # several partitions, the last ones of 1 line
    before = _spools()
    one = _invoke(env, str(corpus), "-o", str(tmp_path / "one.jsonl"))
    two = _invoke(env, str(corpus), "-o", str(tmp_path / "two.jsonl"), "--jobs", "2")
    assert one.exit_code == two.exit_code == 10 and one.stderr == two.stderr
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "two.jsonl").read_bytes()
    to_stdout = _invoke(env, str(corpus), "--jobs", "2", "--format", "tsv")
    assert to_stdout.stdout == _invoke(env, str(corpus), "--format", "tsv").stdout
    assert _spools() == before  # the workers' output folder is gone


def test_jobs_read_documents_in_the_workers_with_the_same_bytes_warnings_and_messages(
        env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # inputs named relatively, as a user types them
    zh = "边检站加强口岸查缉，严防偷渡人员闯关出境。\n\n公安机关依法打击妨害国（边）境管理犯罪。\n"
    Path("a.txt").write_text(zh, encoding="utf-8")
    Path("broken.txt").write_bytes(zh.encode("utf-8")[:30] + b"\xff" + zh.encode("utf-8")[31:])  # a warning
    Path("b.md").write_text("# Ports\n\nBorder police patrolled the ports of entry.\n", encoding="utf-8")
    Path("empty.txt").write_bytes(b"\xff\xfe\xff")  # a warning, no paragraph
    inputs = ["a.txt", "broken.txt", "missing.txt", "b.md", "empty.txt", *(str(p) for p in sorted((ROOT / "seeds").glob("*.txt")))]
    monkeypatch.setattr(pipeline, "DOCUMENTS_PER_PARTITION", 3)  # several partitions of several documents
    partitions = list(pipeline.plan_partitions(inputs, workers=2))
    assert [[name for name, _ in p.documents] for p in partitions] == [inputs[:3], inputs[3:6], inputs[6:9], inputs[9:]]
    assert all(path == str(tmp_path / name) or path == name for p in partitions for name, path in p.documents)
    one = _invoke(env, *inputs, "-o", "one.jsonl")
    two = _invoke(env, *inputs, "-o", "two.jsonl", "--jobs", "2")
    assert one.exit_code == two.exit_code == 10 and one.stderr == two.stderr
    assert Path("one.jsonl").read_bytes() == Path("two.jsonl").read_bytes()
    replaced = "they were replaced with \ufffd — check the file if text is missing"
    assert one.stderr.splitlines() == [
        f"warning: broken.txt: 3 byte sequence(s) are not UTF-8 (the first at byte 30); {replaced}",
        "skipped: missing.txt: cannot read the file (No such file or directory); check the path",
        f"warning: empty.txt: 3 byte sequence(s) are not UTF-8 (the first at byte 0); {replaced}",
        "1 input(s) skipped; 71 paragraphs written"]
    assert str(tmp_path) not in two.stderr  # the workers open absolute paths; messages name the inputs


def test_a_partition_reads_its_range_line_by_line_and_a_huge_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    huge = b'{"text": "' + b"a" * (3 << 20) + b'"}\n'
    path.write_bytes(b'{"text": "one"}\n' + huge + b'{"text": "two"}\n' + b'{"text": "next range"}\n')
    end = len(path.read_bytes()) - len(b'{"text": "next range"}\n')
    chunks = list(pipeline.partition_chunks(pipeline.Partition(0, name="x.jsonl", path=str(path), end=end,
                                                               first_line=1)))
    assert [c.lines for c in chunks] == [(b'{"text": "one"}\n', None, b'{"text": "two"}\n')]


def test_the_last_ranges_of_a_file_are_cut_smaller_for_several_workers(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"x\n" * 40)
    assert list(pipeline._line_ranges(str(path), 8, tail=2)) == [
        (0, 16, 1), (16, 32, 9), (32, 48, 17), (48, 64, 25),  # 16 bytes left < 2 ranges of 16: quarters
        (64, 68, 33), (68, 72, 35), (72, 76, 37), (76, 80, 39)]
    assert list(pipeline._line_ranges(str(path), 8)) == [(0, 16, 1), (16, 32, 9), (32, 48, 17), (48, 64, 25),
                                                         (64, 80, 33)]
    ranges = [(p.start, p.end, p.first_line) for p in pipeline.plan_partitions([str(path)], lines=8, workers=2)]
    assert ranges == list(pipeline._line_ranges(str(path), 8, tail=2))


def test_with_and_without_the_c_extension_the_same_bytes(env: dict[str, str], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """`PMC_PURE_PYTHON=1` (what an install without a compiler runs) writes the compiled path's bytes."""
    from classifier.text import scan

    if scan.compiled() is None:
        pytest.skip("classifier.text._scan is not built")
    corpus = _corpus(tmp_path)
    monkeypatch.setattr(pipeline, "CHUNK_SIZE", 11)
    compiled = _invoke(env, str(corpus), "-o", str(tmp_path / "compiled.jsonl"))
    fallback = _invoke(env, str(corpus), "-o", str(tmp_path / "fallback.jsonl"),
                       env_extra={scan.PURE_PYTHON_VARIABLE: "1"})
    assert compiled.exit_code == fallback.exit_code == 10 and compiled.stderr == fallback.stderr
    assert (tmp_path / "compiled.jsonl").read_bytes() == (tmp_path / "fallback.jsonl").read_bytes()


def test_line_ranges_cut_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"a\n" * 5 + b"bb\n\n" + b"c")
    assert list(pipeline._line_ranges(str(path), 3)) == [(0, 6, 1), (6, 13, 4), (13, 15, 7)]
    assert list(pipeline._line_ranges(str(path), 100)) == [(0, 15, 1)]


@pytest.mark.slow
def test_dask_engine_on_a_local_cluster_gives_the_local_bytes(env: dict[str, str], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    corpus = _corpus(tmp_path)
    document = tmp_path / "report.txt"
    document.write_text("边检站加强口岸查缉。\n\nPatrols at the border line.\n", encoding="utf-8")
    monkeypatch.setattr(pipeline, "PARTITION_LINES", 13)  # several partitions, bad lines in two of them
    # Dask's workers are spawned processes, which re-import the parent's __main__ by its file: after
    # an AppTest in this process that is app.py. The real `pmc` console script has no such file.
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    local = _invoke(env, str(corpus), str(document), "-o", str(tmp_path / "local.jsonl"))
    on_dask = _invoke(env, str(corpus), str(document), "-o", str(tmp_path / "dask.jsonl"), "--engine", "dask",
                      "--jobs", "2")
    assert on_dask.exit_code == local.exit_code == 10
    assert on_dask.stderr == local.stderr
    assert (tmp_path / "dask.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dask.jsonl", "local.jsonl", "mixed.jsonl", "report.txt"]
    to_stdout = _invoke(env, str(corpus), "--engine", "dask", "--jobs", "2", "--format", "tsv")
    assert to_stdout.stdout == _invoke(env, str(corpus), "--format", "tsv").stdout


def test_freed_memory_is_kept_where_the_c_library_is_glibc() -> None:
    import ctypes.util
    import platform

    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc" and ctypes.util.find_library("c")
    assert pipeline.keep_freed_memory() is bool(glibc)


def test_output_to_a_pipe_is_written_in_place_and_a_new_file_gets_the_usual_mode(env: dict[str, str],
                                                                                   tmp_path: Path) -> None:
    import os
    import stat
    import threading

    corpus = _corpus(tmp_path)
    fifo = tmp_path / "out.fifo"  # like -o /dev/null: renaming over it would replace it with a file
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    piped = _invoke(env, str(corpus), "-o", str(fifo))
    reader.join(timeout=60)
    assert stat.S_ISFIFO(fifo.stat().st_mode) and not list(tmp_path.glob(".out.fifo.*"))
    written = _invoke(env, str(corpus), "-o", str(tmp_path / "out.jsonl"))
    assert piped.exit_code == written.exit_code and received == [(tmp_path / "out.jsonl").read_bytes()]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "out.jsonl").stat().st_mode) == 0o666 & ~umask


def test_the_collector_is_quiet_during_a_run_and_restored_after() -> None:
    import gc

    from classifier.scoring.serving import ServingModel

    model = ServingModel.load(Path(__file__).resolve().parents[2] / "models" / "shipped")
    classifier = pipeline.Classifier(model, tuple(model.labels))
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    chunk = pipeline.Chunk(source="x.jsonl", record_source="x.jsonl", lines=(b'{"text": "\xe5\x8f\xa3\xe5\xb2\xb8"}\n',))
    seen = []
    for rendered in pipeline.run_chunks([chunk, chunk], classifier):
        seen.append((gc.get_threshold(), gc.get_freeze_count() > frozen, rendered.count))
    assert seen == [(pipeline._BATCH_GC_THRESHOLDS, True, 1)] * 2
    assert gc.get_threshold() == before and gc.get_freeze_count() == frozen


def test_a_worker_spools_its_output_and_sends_it_through_the_pipe_when_it_cannot(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chunk = pipeline.Chunk(messages=("x.txt: cannot read the file",))
    made = [pipeline.Rendered(b"one\n", 1, ["m"], ["w"]), pipeline.Rendered(b"two\nthree\n", 2)]
    monkeypatch.setattr(pipeline, "_worker_chunk", lambda item: made)
    monkeypatch.setitem(pipeline._WORKER, "spool", str(tmp_path))
    path, bare, sizes = pipeline._worker_spooled(chunk)
    assert Path(path).read_bytes() == b"one\ntwo\nthree\n" and sizes == [4, 10]
    assert [r.data for r in bare] == [b"", b""]  # only the counts and messages cross the pipe
    assert pipeline._unspool((path, bare, sizes)) == made
    assert list(tmp_path.iterdir()) == []  # read back and removed
    monkeypatch.setitem(pipeline._WORKER, "spool", str(tmp_path / "missing"))
    direct = pipeline._worker_spooled(chunk)
    assert direct == ("", made, []) and pipeline._unspool(direct) == made


def test_chunks_scored_together_give_each_chunk_its_own_output() -> None:
    from classifier.scoring.serving import ServingModel
    from classifier.text.paragraph import Paragraph

    model = ServingModel.load(ROOT / "models" / "shipped")
    classifier = pipeline.Classifier(model, tuple(model.labels))
    texts = ["边检站加强口岸查缉。", "Border police patrolled the ports.", "邊檢站加強口岸查緝。", "无关的天气预报。"]
    chunks = [pipeline.Chunk(paragraphs=tuple(Paragraph(f"p{i}{j}", f"d{i}", j, t, "zh" if j % 2 else "")
                                              for j, t in enumerate(texts[i:i + 2])),
                             warnings=(f"w{i}",)) for i in range(3)]
    chunks.append(pipeline.Chunk(messages=("bad.txt: cannot read the file",)))
    together = pipeline.classify_chunks(chunks, classifier)
    assert together == [pipeline.classify_chunk(chunk, classifier) for chunk in chunks]
    assert [r.count for r in together] == [2, 2, 2, 0] and together[3].errors == ["bad.txt: cannot read the file"]
