"""The `pmc` CLI end to end: real files of every format, documented messages and exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from classifier.cli import cli
from classifier.labels.gold import load_labelled, write_labelled

PMC_VARIABLES = ("PMC_DATA_DIR", "PMC_MODELS_DIR", "PMC_DB")

ROOT = Path(__file__).resolve().parents[2]
LABELS = ["enforcement", "port_inspection", "border_patrol", "source_governance", "international_cooperation"]


def run(*args: str, env: dict[str, str], stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """`pmc ARGS` in process (click's CliRunner), as a CompletedProcess with bytes out and err."""
    result = CliRunner().invoke(cli, list(args), input=stdin, env={k: env[k] for k in PMC_VARIABLES if k in env},
                                catch_exceptions=False)
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout_bytes, result.stderr_bytes)


def run_process(*args: str, env: dict[str, str], stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """`python -m classifier.cli ARGS` in a real subprocess (the console entry point, end to end)."""
    return subprocess.run(
        [sys.executable, "-m", "classifier.cli", *args], input=stdin, capture_output=True, env=env, cwd=ROOT,
        timeout=300,
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A registry with one trained model (full gold, no CV, to keep the suite fast)."""
    home = tmp_path_factory.mktemp("pmc")
    environment = {**os.environ, "PMC_DATA_DIR": str(home), "PMC_MODELS_DIR": str(home / "models")}
    result = run("train", "--repeats", "0", env=environment)
    assert result.returncode == 0, result.stderr.decode()
    assert "saved" in result.stdout.decode()
    return environment


def _records(stdout: bytes) -> list[dict]:
    return [json.loads(line) for line in stdout.decode().splitlines()]


def test_train_then_classify_every_seed_paragraph(env: dict[str, str]) -> None:
    seeds = sorted(str(p) for p in (ROOT / "seeds").glob("*.txt"))
    result = run("classify", *seeds, env=env)
    assert result.returncode == 0, result.stderr.decode()
    records = _records(result.stdout)
    assert len(records) == 66
    assert {r["doc"] for r in records} == {Path(s).stem for s in seeds}
    for record in records:
        assert set(record) >= {"id", "doc", "index", "lang", "text", "labels", "scores"}
        assert list(record["scores"]) == LABELS
        assert set(record["labels"]) <= set(LABELS)
    assert sum(bool(r["labels"]) for r in records) > 30


def test_every_document_format_round_trips(env: dict[str, str], tmp_path: Path) -> None:
    import docx

    text_zh = "边检站加强口岸查缉，严防偷渡人员闯关出境。"
    text_en = "Border police patrolled the mountain passes and ferry points at night."
    (tmp_path / "a.txt").write_bytes(f"标题\n\n{text_zh}".encode("gb18030"))
    (tmp_path / "b.md").write_text(f"# Title\n\n{text_en}\n", encoding="utf-8")
    (tmp_path / "c.html").write_text(
        f"<html><head><title>T</title></head><body><nav>Home</nav><article><p>{text_en}</p>"
        f"<p>{text_zh}</p></article></body></html>", encoding="utf-8")
    word = docx.Document()
    word.add_paragraph(text_zh)
    word.save(tmp_path / "d.docx")
    from conftest import tiny_pdf

    (tmp_path / "e.pdf").write_bytes(tiny_pdf([text_en]))
    (tmp_path / "f.jsonl").write_text(json.dumps({"id": "mine-1", "text": text_en, "source": "x"}) + "\n", encoding="utf-8")
    result = run("classify", *(str(tmp_path / n) for n in ("a.txt", "b.md", "c.html", "d.docx", "e.pdf", "f.jsonl")), env=env)
    assert result.returncode == 0, result.stderr.decode()
    records = _records(result.stdout)
    by_doc: dict[str, list[str]] = {}
    for record in records:
        by_doc.setdefault(record["doc"], []).append(record["text"])
    assert by_doc["a"] == [text_zh]
    assert by_doc["b"] == [text_en]
    assert text_en in by_doc["c"] and text_zh in by_doc["c"]
    assert by_doc["d"] == [text_zh]
    assert by_doc["e"] == [text_en]
    jsonl = [r for r in records if r["doc"] == "f"][0]
    assert jsonl["id"] == "mine-1" and jsonl["source"] == "x"
    assert "port_inspection" in [r for r in records if r["doc"] == "a"][0]["labels"]


def test_csv_tsv_and_stdin(env: dict[str, str], tmp_path: Path) -> None:
    line = json.dumps({"text": "口岸边检查获伪假证件，拦截非法出境人员。"}, ensure_ascii=False).encode()
    out = tmp_path / "out.csv"
    result = run("classify", "-", "--format", "csv", "--output", str(out), env=env, stdin=line + b"\n")
    assert result.returncode == 0, result.stderr.decode()
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows[0] == ["id", "doc", "index", "lang", "labels", *[f"score_{l}" for l in LABELS], "text"]
    assert len(rows) == 2 and rows[1][3] == "zh"
    result = run("classify", "-", "--format", "tsv", env=env, stdin="A plain English document.\n".encode())
    assert result.stdout.decode().splitlines()[1].split("\t")[-1] == "A plain English document."


def test_bad_records_are_reported_skipped_and_exit_10(env: dict[str, str], tmp_path: Path) -> None:
    paras = tmp_path / "p.jsonl"
    paras.write_text('{"text": "first paragraph"}\n{broken\n{"text": "third paragraph"}\n', encoding="utf-8")
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\x00\x01\x02PNG")
    out = tmp_path / "out.jsonl"
    result = run("classify", str(paras), str(binary), "-o", str(out), env=env)
    assert result.returncode == 10
    stderr = result.stderr.decode()
    assert f"skipped: {paras}:2: invalid JSON" in stderr
    assert f"skipped: {binary}: looks like a binary file" in stderr
    assert "2 input(s) skipped; 2 paragraphs written" in stderr
    assert [r["text"] for r in _records(out.read_bytes())] == ["first paragraph", "third paragraph"]


def test_explain_and_evaluate(env: dict[str, str], tmp_path: Path) -> None:
    result = run("explain", "边检站加强口岸查缉，严防偷渡人员闯关出境。", env=env)
    assert result.returncode == 0
    assert "port_inspection" in result.stdout.decode() and "'口岸'" in result.stdout.decode()
    gold = tmp_path / "g.jsonl"
    write_labelled(load_labelled()[:20], gold)
    result = run("evaluate", str(gold), "--json", env=env)
    metrics = json.loads(result.stdout)
    assert metrics["n"] == 20 and set(metrics["per_label"]) == set(LABELS)


def test_unknown_label_in_evaluated_gold_exits_5(env: dict[str, str], tmp_path: Path) -> None:
    gold = tmp_path / "g.jsonl"
    gold.write_text(json.dumps({"text": "x", "labels": ["smuggling"]}) + "\n", encoding="utf-8")
    result = run("evaluate", str(gold), env=env)
    assert result.returncode == 5
    assert result.stderr.decode().strip() == (
        f"Error: {gold}:1: unknown label 'smuggling'; expected one of {', '.join(LABELS)} "
        f"(edit the record or add the label to labels/taxonomy.toml)"
    )


@pytest.mark.parametrize(("name", "command"), [("serving.npz", "classify"), ("serving.json", "explain")])
def test_tampered_model_is_refused_with_exit_6(env: dict[str, str], tmp_path: Path, name: str, command: str) -> None:
    import shutil

    registry = tmp_path / "reg"
    shutil.copytree(env["PMC_MODELS_DIR"], registry)
    version = (registry / "ACTIVE").read_text().strip()
    with (registry / version / name).open("ab") as handle:
        handle.write(b"tampered")
    args = ("classify", "--model", str(registry), "-") if command == "classify" else ("explain", "--model", str(registry), "口岸")
    result = run(*args, env=env, stdin=b'{"text": "x"}\n')
    assert result.returncode == 6
    assert f"{name}: SHA-256 does not match the one recorded at save time" in result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()


def test_model_outside_a_registry_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    import shutil

    version = Path(env["PMC_MODELS_DIR"]) / (Path(env["PMC_MODELS_DIR"]) / "ACTIVE").read_text().strip()
    loose = tmp_path / "loose"
    shutil.copytree(version, loose)
    result = run("classify", "--model", str(loose), "-", env=env, stdin=b'{"text": "x"}\n')
    assert result.returncode == 6
    assert "models are loaded only from a pmc model registry" in result.stderr.decode()


def test_missing_model_and_missing_file(tmp_path: Path) -> None:
    environment = {**os.environ, "PMC_MODELS_DIR": str(tmp_path / "none")}
    result = run("classify", "x.txt", env=environment)
    assert result.returncode == 6 and "no active model" in result.stderr.decode()


def _commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], bool]]:
    out = []
    for name, command in group.commands.items():
        is_group = isinstance(command, click.Group)
        out.append(((*prefix, name), is_group))
        if is_group:
            out += _commands(command, (*prefix, name))
    return out


@pytest.mark.parametrize(("command", "is_group"), _commands(), ids=lambda c: " ".join(c) if isinstance(c, tuple) else "")
def test_help_of_every_command_has_an_example(command: tuple[str, ...], is_group: bool) -> None:
    result = run(*command, "--help", env=dict(os.environ))
    assert result.returncode == 0, result.stderr.decode()
    assert is_group or "Example:" in result.stdout.decode(), command


@pytest.mark.slow
def test_the_console_entry_point_end_to_end(env: dict[str, str]) -> None:
    seeds = sorted(str(p) for p in (ROOT / "seeds").glob("*.txt"))
    result = run_process("classify", *seeds[:1], env=env)
    assert result.returncode == 0, result.stderr.decode()
    assert len(_records(result.stdout)) == 6
    missing = run_process("classify", "no-such-file.txt", env=env)
    assert missing.returncode == 10
    assert missing.stderr.decode().splitlines()[0].startswith("skipped: no-such-file.txt: cannot read the file")


def test_jobs_gives_the_same_records_in_the_same_order(env: dict[str, str], tmp_path: Path) -> None:
    seeds = sorted(str(p) for p in (ROOT / "seeds").glob("*.txt"))
    one = run("classify", *seeds, env=env)
    two = run("classify", *seeds, "--jobs", "2", env=env)
    assert two.returncode == 0, two.stderr.decode()
    assert _records(two.stdout) == _records(one.stdout)


def test_profile_by_year_from_gold_labels_with_exact_shares(env: dict[str, str], tmp_path: Path) -> None:
    texts = ["Police arrested 12 suspects in a smuggling case.", "Officers checked travellers at the port.",
             "The weather was fine.", "Patrols covered the border line at night."]
    docs = [("a", "2023-05-01"), ("a", "2023-05-01"), ("b", "2024-01-02"), ("b", "2024-01-02")]
    lines = [json.dumps({"doc": doc, "index": i, "text": text, "date": date, "lang": "en"})
             for i, (text, (doc, date)) in enumerate(zip(texts, docs))]
    source = tmp_path / "tiny.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    gold = tmp_path / "gold.jsonl"
    truth = [["enforcement"], ["port_inspection"], [], ["border_patrol"]]
    gold.write_text("".join(json.dumps({"text": t, "labels": l, "source": "real"}) + "\n" for t, l in zip(texts, truth)),
                    encoding="utf-8")
    result = run("profile", str(source), "--by", "year", "--format", "jsonl", "--gold", str(gold), env=env)
    assert result.returncode == 0, result.stderr.decode()
    rows = {row["group"]: row for row in _records(result.stdout)}
    assert set(rows) == {"2023", "2024"}
    assert (rows["2023"]["paragraphs"], rows["2023"]["from_gold"], rows["2023"]["documents"]) == (2, 2, 1)
    assert rows["2023"]["shares"] == {"enforcement": 0.5, "port_inspection": 0.5, "border_patrol": 0.0,
                                      "source_governance": 0.0, "international_cooperation": 0.0, "none": 0.0}
    assert rows["2024"]["counts"] == {"enforcement": 0, "port_inspection": 0, "border_patrol": 1,
                                      "source_governance": 0, "international_cooperation": 0, "none": 1}


def test_figures_of_the_hundred_days_seed_with_measures_and_campaign(env: dict[str, str]) -> None:
    result = run("figures", str(ROOT / "seeds" / "004_db64a1ae7bdd72cb.txt"), env=env)
    assert result.returncode == 0, result.stderr.decode()
    rows = _records(result.stdout)
    first = [(r["kind"], r["value"]) for r in rows if r["index"] == 0]
    assert first == [("cases", 735.0), ("gangs", 21.0), ("suspects", 1461.0), ("suspects", 2.0), ("items", 3102.0),
                     ("persons_intercepted", 1050.0)]
    assert {r["labels_from"] for r in rows} == {"gold"} and "enforcement" in rows[0]["measures"]
    assert rows[0]["campaigns"].startswith("hundred_days") and rows[0]["date"] == "--07-07"
    evaluated = run("figures", "--evaluate", str(ROOT / "labels" / "figures.jsonl"), env=env)
    assert "heldout: 38 paragraphs" in evaluated.stdout.decode()
    assert "agreement, dev-rules vs dev-figures-recall: 36 paragraphs" in evaluated.stdout.decode()
