"""`pmc figures`: the figures documents report (cases, gangs, suspects, persons, yuan …), and how
well they are extracted."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click

from . import EXIT_SKIPPED, cli

FIELDS = ("doc", "index", "paragraph_id", "lang", "kind", "value", "unit", "qualifier", "start", "end", "figure", "text")


@cli.command("figures")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of stdout.")
@click.option("--evaluate", "gold", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Score the extractor on hand-labelled figures (labels/figures.jsonl) instead.")
def figures_cmd(paths: tuple[Path, ...], fmt: str, output: Path | None, gold: Path | None) -> None:
    """The figures each paragraph reports, one row per figure, with its span and kind.

    Kinds: cases, gangs, dens, suspects, persons_intercepted, persons_inspected, returned,
    foreigners, vehicles_vessels, money, items, change (percentages and year-on-year changes).

    \b
    Example:
      pmc figures seeds/*.txt --format csv -o figures.csv
      pmc figures --evaluate labels/figures.jsonl
    """
    from ..classify import iter_paragraphs
    from ..text.figures import find_figures, score_figures

    if gold is not None:
        rows = [json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()]
        for split in sorted({r.get("split", "all") for r in rows}):
            scored = score_figures([(r["text"], [(f["kind"], f["value"], f["qualifier"]) for f in r["figures"]])
                                    for r in rows if r.get("split", "all") == split])
            click.echo(f"{split}: {sum(1 for r in rows if r.get('split', 'all') == split)} paragraphs")
            for kind, m in scored.items():
                click.echo(f"  {kind:20s} gold {m['gold']:3d}  found {m['found']:3d}  precision {m['precision']:.2f}"
                           f"  recall {m['recall']:.2f}")
        return
    if not paths:
        raise click.UsageError("give documents or JSONL files (or '-' for stdin), or --evaluate FILE")
    problems: list[str] = []
    handle = output.open("w", encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="") if output else sys.stdout
    writer = csv.writer(handle) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(FIELDS)
    try:
        for paragraph in iter_paragraphs(paths, on_error=problems.append):
            for figure in find_figures(paragraph.text):
                row = {"doc": paragraph.doc, "index": paragraph.index, "paragraph_id": paragraph.id,
                       "lang": paragraph.lang, "kind": figure.kind, "value": figure.value, "unit": figure.unit,
                       "qualifier": figure.qualifier, "start": figure.start, "end": figure.end,
                       "figure": figure.text, "text": paragraph.text}
                if writer is not None:
                    writer.writerow([row[f] for f in FIELDS])
                else:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    finally:
        if output:
            handle.close()
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        sys.exit(EXIT_SKIPPED)
