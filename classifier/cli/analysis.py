"""`pmc figures`: the figures documents report (cases, gangs, suspects, persons, yuan …), and how
well they are extracted."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click

from . import EXIT_SKIPPED, cli
from .options import STORE

FIELDS = ("doc", "index", "paragraph_id", "lang", "kind", "value", "unit", "qualifier", "start", "end", "figure",
          "measures", "labels_from", "date", "campaigns", "publisher", "text")


@cli.command("figures")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of stdout.")
@click.option("--evaluate", "gold", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Score the extractor on hand-labelled figures (labels/figures.jsonl) instead, and show how far "
                   "the two annotation passes behind them agree.")
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
    from ..text.figures import figure_agreement, find_figures, score_figures

    if gold is not None:
        rows = [json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()]
        for split in sorted({r.get("split", "all") for r in rows}):
            in_split = [r for r in rows if r.get("split", "all") == split]
            scored = score_figures([(r["text"], [(f["kind"], f["value"], f["qualifier"]) for f in r["figures"]])
                                    for r in in_split])
            click.echo(f"{split}: {len(in_split)} paragraphs")
            for kind, m in scored.items():
                click.echo(f"  {kind:20s} gold {m['gold']:3d}  found {m['found']:3d}  precision {m['precision']:.2f}"
                           f"  recall {m['recall']:.2f}")
        pairs: dict[str, list[tuple[list, list]]] = {}  # the two annotation passes behind the gold, per pair
        for r in rows:
            if len(r.get("passes", {})) == 2:
                (first, a), (second, b) = r["passes"].items()
                pairs.setdefault(f"{first} vs {second}", []).append((a, b))
        for names, pair in pairs.items():
            click.echo(f"agreement, {names}: {len(pair)} paragraphs")
            for kind, m in figure_agreement(pair).items():
                click.echo(f"  {kind:20s} first {m['found']:3d}  second {m['gold']:3d}  matched {m['tp']:3d}"
                           f"  F1 {m['f1']:.2f}")
        return
    if not paths:
        raise click.UsageError("give documents or JSONL files (or '-' for stdin), or --evaluate FILE")
    from ..classify import score_paragraphs
    from ..errors import ModelError
    from ..labels.gold import default_gold_path, load_labelled
    from ..metadata import extract_metadata, merge_metadata
    from ..scoring.registry import load_serving

    problems: list[str] = []
    paragraphs = list(iter_paragraphs(paths, on_error=problems.append))
    gold = {row.id: list(row.labels) for row in load_labelled(default_gold_path())}
    try:  # each figure's measures: the paragraph's gold labels, else the active model's
        saved = load_serving()
        predicted = {r["id"]: r["labels"] for r in score_paragraphs(saved.model, tuple(saved.card["labels"]), paragraphs)}
    except ModelError:
        predicted = {}
    by_doc: dict[str, list] = {}
    for paragraph in paragraphs:
        by_doc.setdefault(paragraph.doc, []).append(paragraph)
    metas = {doc: merge_metadata(extract_metadata([ps[0].title, *(p.text for p in ps)], langs=[p.lang for p in ps]),
                                 {k: ps[0].extra.get(k) for k in ("date", "publisher", "campaign")})
             for doc, ps in by_doc.items()}
    handle = output.open("w", encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="") if output else sys.stdout
    writer = csv.writer(handle) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(FIELDS)
    try:
        for paragraph in paragraphs:
            meta = metas[paragraph.doc]
            measures = gold.get(paragraph.id, predicted.get(paragraph.id))
            source = "gold" if paragraph.id in gold else ("model" if paragraph.id in predicted else "")
            campaigns = ";".join(c["id"] + (f"-{c['year']}" if c.get("year") else "") for c in meta.get("campaigns", []))
            for figure in find_figures(paragraph.text):
                row = {"doc": paragraph.doc, "index": paragraph.index, "paragraph_id": paragraph.id,
                       "lang": paragraph.lang, "kind": figure.kind, "value": figure.value, "unit": figure.unit,
                       "qualifier": figure.qualifier, "start": figure.start, "end": figure.end,
                       "figure": figure.text, "measures": ";".join(measures or []), "labels_from": source,
                       "date": meta.get("date", ""), "campaigns": campaigns, "publisher": meta.get("publisher", ""),
                       "text": paragraph.text}
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


@cli.command("profile")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--by", "by", type=click.Choice(["doc", "campaign", "year", "publisher", "lang"]), default="doc",
              show_default=True, help="What to group paragraphs by (campaign, year, publisher from each document's metadata).")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl", "csv"]), default="table", show_default=True)
@click.option("--model", default=None, help="Model version (default the active one).")
@click.option("--gold", "gold_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Labelled JSONL whose labels replace the model's where a paragraph has one "
                   "(default labels/gold.jsonl).")
def profile_cmd(paths: tuple[Path, ...], by: str, fmt: str, model: str | None, gold_path: Path | None) -> None:
    """Measure shares per document, campaign, year, publisher or language, with the paragraphs behind each.

    Each paragraph's labels come from the gold file where it has a gold label, else from the model;
    `from_gold` says how many. Shares are of the group's paragraphs (a paragraph with two measures
    counts for both).

    \b
    Example:
      pmc profile seeds/*.txt --by campaign
      pmc profile corpus.jsonl --by year --format csv > by_year.csv
    """
    from ..analysis import profile_groups
    from ..classify import iter_paragraphs, score_paragraphs
    from ..labels.gold import default_gold_path, load_labelled
    from ..metadata import extract_metadata, merge_metadata
    from ..scoring.registry import load_serving

    saved = load_serving(model)
    labels = tuple(saved.card["labels"])
    gold = {row.id: list(row.labels) for row in load_labelled(gold_path or default_gold_path())}
    problems: list[str] = []
    paragraphs = list(iter_paragraphs(paths, on_error=problems.append))
    records = score_paragraphs(saved.model, labels, paragraphs) if paragraphs else []
    for record in records:
        if record["id"] in gold:
            record["labels"], record["source"] = gold[record["id"]], "gold"
        else:
            record["source"] = "model"
    by_doc: dict[str, list] = {}
    for paragraph in paragraphs:
        by_doc.setdefault(paragraph.doc, []).append(paragraph)
    metas = {doc: merge_metadata(extract_metadata([ps[0].title, *(p.text for p in ps)], langs=[p.lang for p in ps]),
                                 {k: ps[0].extra.get(k) for k in ("date", "publisher", "campaign")})
             for doc, ps in by_doc.items()}  # a JSONL record's own date, publisher, campaign win
    rows = profile_groups(records, metas, labels, by=by)
    columns = [*labels, "none"]
    if fmt == "jsonl":
        for row in rows:
            click.echo(json.dumps({"by": by, **row}, ensure_ascii=False))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow([by, "paragraphs", "documents", "from_gold", *[f"share_{c}" for c in columns],
                         *[f"n_{c}" for c in columns]])
        for row in rows:
            writer.writerow([row["group"], row["paragraphs"], row["documents"], row["from_gold"],
                             *[round(row["shares"][c], 4) for c in columns], *[row["counts"][c] for c in columns]])
    else:
        click.echo(f"{by:24s} {'n':>5s} {'gold':>5s} " + " ".join(f"{c[:10]:>10s}" for c in columns))
        for row in rows:
            click.echo(f"{row['group'][:24]:24s} {row['paragraphs']:5d} {row['from_gold']:5d} "
                       + " ".join(f"{row['shares'][c]:10.0%}" for c in columns))
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        sys.exit(EXIT_SKIPPED)


@cli.command("meta")
@click.argument("doc")
@click.option("--set", "changes", multiple=True, metavar="FIELD=VALUE",
              help="date, publisher, campaign, title or source_url; an empty value removes the field.")
@click.option("--db", type=STORE, default=None,
              help="Annotation store (default PMC_DB, else data/pmc.sqlite).")
def meta_cmd(doc: str, changes: tuple[str, ...], db: Path | None) -> None:
    """Show a stored document's metadata (date, publisher, campaigns …), or correct it.

    \b
    Example:
      pmc meta 004_db64a1ae7bdd72cb
      pmc meta 004_db64a1ae7bdd72cb --set date=2022-07-07 --set campaign=hundred_days
    """
    from ..store import document_meta, edit_document_meta, open_store

    parsed = {}
    for change in changes:
        field, sep, value = change.partition("=")
        if not sep:
            raise click.BadParameter(f"{change!r} is not FIELD=VALUE (e.g. date=2024-07-05)", param_hint="--set")
        parsed[field.strip()] = value.strip()
    with open_store(db) as store:
        meta = edit_document_meta(store, doc, parsed) if parsed else document_meta(store, [doc]).get(doc)
    if meta is None:
        raise click.ClickException(f"no document {doc!r} in the store")
    click.echo(json.dumps(meta, ensure_ascii=False, indent=2))
