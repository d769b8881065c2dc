"""`pmc answers ...` and `pmc review ...`: answers and adjudications in and out of the store."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import EXIT_SKIPPED, cli
from .options import STORE, actor


@cli.group("answers")
def answers_group() -> None:
    """Import answers made outside the app; export every answer ever recorded."""


@answers_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--annotator", required=True, help="Whose answers these are (one annotator per file).")
@click.option("--db", type=STORE, default=None,
              help="Annotation store (default PMC_DB, else data/pmc.sqlite).")
def answers_import_cmd(file: Path, annotator: str, db: Path | None) -> None:
    """Record a JSONL file of answers as one annotator's, tagged `import:<file name>`.

    Each line: `id` (or `text`) of a stored paragraph, `labels` (a list, [] for none), optional
    `answer` (accept, skip, flag) and `note`. Bad lines are reported with file and line and
    skipped (exit 10); the good ones are recorded as ordinary append-only answers.

    \b
    Example:
      pmc answers import pass_a.jsonl --annotator ann-a --db corpus.sqlite
    """
    from ..exchange import import_answer_file
    from ..store.users import authorize
    from ..store import open_store

    with open_store(db) as store:
        authorize(store, actor(), "admin")
        result = import_answer_file(store, file, annotator=annotator,
                                    on_error=lambda message: click.echo(f"skipped: {message}", err=True))
    click.echo(f"{file}: {result['added']} answers recorded for {annotator}, {result['skipped']} lines skipped")
    if result["skipped"]:
        sys.exit(EXIT_SKIPPED)


@answers_group.command("export")
@click.option("--db", type=STORE, default=None,
              help="Annotation store (default PMC_DB, else data/pmc.sqlite).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of stdout.")
def answers_export_cmd(db: Path | None, fmt: str, output: Path | None) -> None:
    """Every answer ever recorded: paragraph, document, annotator, kind, labels, note, model
    version and scores shown, source and time — so agreement can be recomputed outside.

    \b
    Example:
      pmc answers export --format csv -o answers.csv
    """
    import csv
    from contextlib import nullcontext

    from ..classify import csv_cell, open_output
    from ..exchange import ANSWER_FIELDS, answer_records
    from ..store import open_store

    with open_store(db, create=False) as store:
        records = answer_records(store)
    with open_output(output) if output else nullcontext(click.get_text_stream("stdout")) as handle:
        if fmt == "jsonl":
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(ANSWER_FIELDS)
            for record in records:
                writer.writerow([csv_cell(";".join(record[k]) if k == "labels" else
                                          json.dumps(record[k]) if k == "scores" and record[k] is not None else
                                          record[k]) for k in ANSWER_FIELDS])


@cli.group("review")
def review_group() -> None:
    """Bring a reviewer's adjudications into the store."""


@review_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--reviewer", required=True, help="Who decided.")
@click.option("--db", type=STORE, default=None,
              help="Annotation store (default PMC_DB, else data/pmc.sqlite).")
def review_import_cmd(file: Path, reviewer: str, db: Path | None) -> None:
    """Record a JSONL file of adjudications (`id`, `labels`, `note`) as gold with source `review`.

    Every decision needs a note saying why. Bad lines are reported and skipped (exit 10).

    \b
    Example:
      pmc review import decisions.jsonl --reviewer lead --db corpus.sqlite
    """
    from ..exchange import import_adjudication_file
    from ..store import open_store

    with open_store(db) as store:
        result = import_adjudication_file(store, file, reviewer=reviewer,
                                          on_error=lambda message: click.echo(f"skipped: {message}", err=True))
    click.echo(f"{file}: {result['added']} decisions recorded by {reviewer}, {result['skipped']} lines skipped")
    if result["skipped"]:
        sys.exit(EXIT_SKIPPED)
