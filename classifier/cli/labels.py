"""`pmc labels ...`: check, sync, export and import the gold file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import LabelDataError
from . import EXIT_SKIPPED, cli
from .options import STORE, actor


@cli.group("labels")
def labels_group() -> None:
    """Check, sync, export and import labelled data."""


@labels_group.command("check")
@click.option("--gold", type=click.Path(path_type=Path), default=None, help="Gold JSONL (default labels/gold.jsonl).")
@click.option("--seeds", type=click.Path(path_type=Path), default=None, help="Seed documents folder (default seeds/).")
@click.option("--against", "against", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Held-out JSONL that no row may leak (same page, story or near-copy); repeatable. "
                   "Default: ../shared/devset/dev.jsonl when it exists.")
@click.option("--no-leak-check", is_flag=True, help="Skip the leak check against the development set.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def labels_check_cmd(gold: Path | None, seeds: Path | None, against: tuple[Path, ...], no_leak_check: bool,
                     as_json: bool) -> None:
    """Validate the gold labels: unknown ids, duplicates, missing seed paragraphs, leaks, counts.

    A row leaks a held-out file when it comes from one of its pages, tells one of its stories
    (two or more distinctive figures shared, in any language) or nearly copies one of its
    paragraphs. Exits 5 when a problem is found.

    \b
    Example:
      pmc labels check
      pmc labels check --gold my_gold.jsonl --against heldout.jsonl --json
    """
    from ..labels.gold import check_gold, default_heldout_path

    if not against and not no_leak_check and default_heldout_path().exists():
        against = (default_heldout_path(),)
    report = check_gold(gold, seeds_dir=seeds, against=() if no_leak_check else against)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(f"{report.path}: {report.records} records ({_fmt_counts(report.by_source)})")
        for reference in report.checked_against:
            click.echo(f"leak check against {reference}")
        click.echo(_counts_table(report.counts))
        for problem in report.problems:
            click.echo(f"problem: {problem}", err=True)
        click.echo("ok" if report.ok else f"{len(report.problems)} problem(s)")
    if not report.ok:
        sys.exit(5)


@labels_group.command("sync-codebook")
@click.option("--gold", type=click.Path(path_type=Path), default=None, help="Gold JSONL (default labels/gold.jsonl).")
def labels_sync_cmd(gold: Path | None) -> None:
    """Rewrite the codebook examples in the gold file from labels/taxonomy.toml.

    Seed and annotated records are kept as they are.

    \b
    Example:
      pmc labels sync-codebook
    """
    from ..labels.gold import default_gold_path, load_labelled, replace_codebook_records, write_labelled

    path = gold or default_gold_path()
    rows = load_labelled(path) if Path(path).exists() else []
    count = write_labelled(replace_codebook_records(rows), path)
    click.echo(f"{path}: {count} records")


@labels_group.command("export")
@click.option("--db", type=STORE, default=None,
              help="Annotation store (default PMC_DB, else data/pmc.sqlite).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Gold JSONL to write (default labels/gold.jsonl).")
@click.option("--include-labelled", is_flag=True,
              help="Also write paragraphs with undisputed annotator labels but no gold yet.")
@click.option("--with-answers", is_flag=True,
              help="Add every annotator's latest answer (`answers`) and the document's metadata to each row.")
@click.option("--source", "source", type=click.Choice(["real"]), default=None,
              help="Record this source on rows decided in the store (agreement or review; kept in `decision`).")
@click.option("--force", is_flag=True, help="Replace a non-empty file even when the store has no gold to write.")
def labels_export_cmd(db: Path | None, out: Path | None, include_labelled: bool, with_answers: bool,
                      source: str | None, force: bool) -> None:
    """Write the store's gold labels (adjudicated, imported) as a gold JSONL file.

    Annotator, source, note, group and extra fields are kept, so importing the file into a
    fresh store and exporting it again gives the same file.

    \b
    Example:
      pmc labels export
      pmc labels export --db team.sqlite --out reviewed.jsonl --include-labelled
      pmc labels export --db corpus.sqlite --include-labelled --with-answers --source real --out real.jsonl
    """
    from ..exchange import gold_with_answers
    from ..labels.gold import default_gold_path, write_labelled
    from ..store import export_gold, open_store

    path = out or default_gold_path()
    with open_store(db, create=False) as store:
        rows = (gold_with_answers(store, include_labelled=include_labelled, source=source)
                if with_answers or source else export_gold(store, include_labelled=include_labelled))
        if not rows and not force and path.exists() and path.stat().st_size > 0:
            raise LabelDataError(f"{path}: not replaced — the store {store.path} has no gold labels to write and "
                                 f"the file is not empty; pass --force to empty it anyway")
        count = write_labelled(rows, path)
    click.echo(f"{path}: {count} records")


@labels_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--db", type=STORE, default=None,
              help="Annotation store (default PMC_DB, else data/pmc.sqlite).")
def labels_import_cmd(file: Path, db: Path | None) -> None:
    """Import a gold JSONL file into the store (a record equal to the current gold adds nothing).

    Bad lines are reported with file and line and skipped (exit 10); every good record is imported.

    \b
    Example:
      pmc labels import labels/gold.jsonl
      pmc labels import reviewed.jsonl --db team.sqlite
    """
    from ..labels.gold import read_labelled
    from ..store import import_gold, open_store
    from ..store.users import authorize

    skipped: list[str] = []

    def report(message: str) -> None:
        skipped.append(message)
        click.echo(f"skipped: {message}", err=True)

    with open_store(db) as store:
        authorize(store, actor(), "admin")
        rows = read_labelled(file, taxonomy=store.taxonomy, on_error=report)
        result = import_gold(store, rows)
    click.echo(f"{file}: {result['rows']} records, {result['added']} added, {result['unchanged']} unchanged, "
               f"{result['new_paragraphs']} new paragraphs")
    if skipped:
        sys.exit(EXIT_SKIPPED)


def _fmt_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))


def _counts_table(counts: dict[str, dict[str, int]]) -> str:
    from ..labels.taxonomy import load_taxonomy

    columns = ["paragraphs", *load_taxonomy().label_ids, "none"]
    width = max(len(c) for c in columns)
    lines = [f"{'label':<{width}}  " + "  ".join(f"{lang:>8}" for lang in counts)]
    for column in columns:
        lines.append(
            f"{column:<{width}}  " + "  ".join(f"{counts[lang].get(column, 0):>8}" for lang in counts)
        )
    return "\n".join(lines)
