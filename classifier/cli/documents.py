"""`pmc segment`, `pmc classify`, `pmc ingest`, `pmc app`: documents in, records or a running app out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import InputError, PmcError
from . import EXIT_SKIPPED, cli
from .options import STORE, actor


@cli.command("segment")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def segment_cmd(paths: tuple[Path, ...]) -> None:
    """Split documents into paragraphs and print them as JSONL.

    \b
    Example:
      pmc segment seeds/003_068763a167a86ed9.txt
    """
    from ..text.reader import read_document
    from ..text.segmenter import segment

    _no_stdin(paths)
    for path in paths:
        document = read_document(path)
        for warning in document.warnings:
            click.echo(f"warning: {warning}", err=True)
        for paragraph in segment(document):
            click.echo(json.dumps(paragraph.to_record(), ensure_ascii=False))


def _no_stdin(paths: tuple[Path, ...]) -> None:
    if any(str(p) == "-" for p in paths):
        raise InputError("'-' (standard input) is read by `pmc classify` only; save the text to a file and pass its path")


@cli.command("classify")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--model", default=None, help="Model version (folder name in the registry); default the active one.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "tsv"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None, help="Write here instead of stdout.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes.")
@click.option("--threshold-scale", type=click.FloatRange(0.01, 10.0), default=1.0, show_default=True,
              help="Multiply every label threshold (<1 labels more, >1 labels less).")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Where batches run: this machine, or a Dask cluster (pip install -e '.[dask]').")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="With --engine dask: a running scheduler (tcp://host:8786); default a local cluster of --jobs workers.")
def classify_cmd(inputs: tuple[str, ...], model: str | None, fmt: str, output: Path | None, jobs: int,
                 threshold_scale: float, engine: str, scheduler: str | None) -> None:
    """Classify documents (txt, md, html, docx, pdf) or JSONL paragraphs; `-` reads stdin.

    One record per paragraph: id, doc, index, lang, text, labels, scores. Bad files and
    lines are reported on stderr with file and line and skipped; the exit code is then 10.

    With --engine dask, JSONL files are split into partitions of whole lines that run on the
    cluster's workers; the model folder, inputs and output must be on storage they all see.

    \b
    Example:
      pmc classify seeds/*.txt --format csv -o predictions.csv
      cat paragraphs.jsonl | pmc classify - --jobs 2
      pmc classify big.jsonl -o out.jsonl --engine dask --scheduler tcp://10.0.0.5:8786
    """
    from contextlib import nullcontext

    from ..classify import RecordWriter, open_output
    from ..pipeline import Classifier, plan_partitions, run_chunks
    from ..scoring.registry import load_serving

    saved = load_serving(model)
    labels = tuple(saved.card["labels"])
    skipped: list[str] = []

    def report(message: str) -> None:
        skipped.append(message)
        click.echo(f"skipped: {message}", err=True)

    target = open_output(output, inputs=inputs) if output else nullcontext(click.get_text_stream("stdout"))
    progress = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        progress = tqdm(unit=" paragraphs", file=sys.stderr, smoothing=0.1)
    parts = output.parent / f".{output.name}.parts" if output is not None and engine == "dask" else None
    try:
        with target as handle:
            writer = RecordWriter(handle, fmt, labels)
            if engine == "dask":
                from ..cluster import classify_on_dask

                if parts is not None:
                    parts.mkdir(exist_ok=True)
                stream = classify_on_dask(inputs, model_dir=saved.path, fmt=fmt, threshold_scale=threshold_scale,
                                          parts_dir=parts, scheduler=scheduler, workers=jobs)
            else:
                classifier = Classifier(saved.model, labels, fmt=fmt, threshold_scale=threshold_scale)
                # Partitions: a worker (or this process) reads its documents and its byte ranges of
                # JSONL files itself, and scores a partition's small documents as one batch.
                stream = run_chunks(plan_partitions(inputs, workers=jobs), classifier, jobs=jobs, model_dir=saved.path)
            for rendered in stream:
                for message in rendered.warnings:
                    click.echo(f"warning: {message}", err=True)
                for message in rendered.errors:
                    report(message)
                writer.write_rendered(rendered.data, rendered.count)
                if progress is not None:
                    progress.update(rendered.count)
            if parts is not None:
                from ..cluster import join_parts

                handle.flush()
                join_parts(parts, handle.buffer)
    finally:
        if progress is not None:
            progress.close()
        if parts is not None:
            import shutil

            shutil.rmtree(parts, ignore_errors=True)
    if skipped:
        click.echo(f"{len(skipped)} input(s) skipped; {writer.count} paragraphs written", err=True)
        sys.exit(EXIT_SKIPPED)


@cli.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--db", type=STORE, default=None,
              help="Annotation store (default PMC_DB, else data/pmc.sqlite).")
def ingest_cmd(paths: tuple[Path, ...], db: Path | None) -> None:
    """Add documents (txt, md, html, docx, pdf) or JSONL paragraphs to the store for labelling.

    Each file is segmented, stored and scored with the active model, if there is one. Bad
    files are reported on stderr and skipped; the exit code is then 10.

    \b
    Example:
      pmc ingest reports/*.docx briefing.pdf
      pmc ingest paragraphs.jsonl --db team.sqlite
    """
    from ..corpus import ingest_path
    from ..workspace import Workspace

    _no_stdin(paths)
    skipped = 0
    with Workspace.open(db) as ws:
        for path in paths:
            try:
                result = ingest_path(ws, path, by=actor())
            except PmcError as exc:
                skipped += 1
                click.echo(f"skipped: {exc}", err=True)
                continue
            for line in result["skipped"]:
                click.echo(f"skipped: {line}", err=True)
            for line in result["warnings"]:
                click.echo(f"warning: {line}", err=True)
            skipped += len(result["skipped"])
            click.echo(f"{path}: {result['paragraphs']} paragraphs ({result['new']} new), "
                       f"{result['scored']} scored")
    if skipped:
        sys.exit(EXIT_SKIPPED)


@cli.command("app")
@click.option("--db", type=STORE, default=None,
              help="Annotation store (default PMC_DB, else data/pmc.sqlite).")
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True, help="Port to serve on.")
@click.option("--address", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 shares the app with your network.")
@click.option("--auth", type=click.Choice(["none", "header", "oidc"]), default=None,
              help="How people sign in (default PMC_AUTH, else none: a typed name, for one trusted machine).")
def app_cmd(db: Path | None, port: int, address: str, auth: str | None) -> None:
    """Start the labelling and review app (seeds, trains and scores on first start).

    The first start ingests seeds/*.txt, imports labels/gold.jsonl and trains a model when the
    registry has none; later starts take a second. Stop the app with Ctrl+C.

    \b
    Example:
      pmc app
      pmc app --db team.sqlite --port 8600 --address 0.0.0.0
      PMC_DB=postgresql://pmc_app:…@db.internal/pmc pmc app --auth oidc --address 0.0.0.0
    """
    import os
    import subprocess

    from ..bootstrap import bootstrap
    from ..paths import PROJECT_ROOT, default_db_path, store_key

    db_path = store_key(db or default_db_path())
    report = bootstrap(db_path, progress=lambda message: click.echo(message, err=True))
    click.echo(f"store {report['db']}, active model {report['active'] or 'none'}", err=True)
    command = [
        sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "app.py"),
        "--server.headless", "true", "--server.port", str(port), "--server.address", address,
        "--browser.gatherUsageStats", "false",
    ]
    if "://" not in db_path:  # a URL (with its password) goes by environment only, never on the command line
        command += ["--", "--db", db_path]
    try:
        env = {**os.environ, "PMC_DB": db_path, **({"PMC_AUTH": auth} if auth else {})}
        code = subprocess.call(command, cwd=PROJECT_ROOT, env=env)
    except KeyboardInterrupt:
        code = 0
    sys.exit(code)
