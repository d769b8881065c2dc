"""The `pmc` command line: thin click commands over library functions that return data.

Each command parses options, calls one function of the library, and formats what it returns.
Library errors (`PmcError`) become one line on stderr and the error's exit code; no traceback.

Exit codes: 0 success; 1 unexpected error; 2 usage error; 3 codebook (taxonomy) error;
4 input error (missing, binary, undecodable or oversized file); 5 labelled-data error;
6 model error (missing, tampered, incompatible); 7 store error; 10 finished, but some input
records were skipped (each reported on stderr with file and line).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .errors import PmcError

__all__ = ["cli", "main", "EXIT_SKIPPED"]

EXIT_SKIPPED = 10


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # definition order, most used first

    def invoke(self, ctx: click.Context) -> object:
        """Library errors become one line on stderr and their exit code (the edge of the library)."""
        try:
            return super().invoke(ctx)
        except PmcError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="policy-measure-classifier", prog_name="pmc")
def cli() -> None:
    """pmc — code documents paragraph by paragraph into policy measures.

    \b
    Example:
      pmc segment seeds/001_4fc425b8d83a2046.txt | head
      pmc labels check
    """


@cli.command("segment")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def segment_cmd(paths: tuple[Path, ...]) -> None:
    """Split documents into paragraphs and print them as JSONL.

    \b
    Example:
      pmc segment seeds/003_068763a167a86ed9.txt
    """
    from .text.reader import read_document
    from .text.segmenter import segment

    for path in paths:
        for paragraph in segment(read_document(path)):
            click.echo(json.dumps(paragraph.to_record(), ensure_ascii=False))


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
    from .labels.gold import check_gold, default_heldout_path

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
    from .labels.gold import default_gold_path, load_labelled, replace_codebook_records, write_labelled

    path = gold or default_gold_path()
    rows = load_labelled(path) if Path(path).exists() else []
    count = write_labelled(replace_codebook_records(rows), path)
    click.echo(f"{path}: {count} records")


@cli.command("train")
@click.option("--gold", type=click.Path(path_type=Path), default=None, help="Labelled JSONL to train on (default labels/gold.jsonl).")
@click.option("--out", "registry", type=click.Path(path_type=Path), default=None, help="Model registry folder (default data/models).")
@click.option("--repeats", type=click.IntRange(0, 20), default=3, show_default=True, help="Repeats of the grouped cross-validation (0 skips it).")
@click.option("--heldout", type=click.Path(exists=True, path_type=Path), default=None, help="Labelled JSONL never trained on, scored and recorded in the card.")
@click.option("--json", "as_json", is_flag=True, help="Print the model card as JSON.")
def train_cmd(gold: Path | None, registry: Path | None, repeats: int, heldout: Path | None, as_json: bool) -> None:
    """Train on all labelled data, cross-validate, save a new model version and activate it.

    \b
    Example:
      pmc train
      pmc train --heldout ../shared/devset/dev.jsonl
    """
    from .labels.gold import load_labelled
    from .report import metrics_table
    from .training import train

    rows = load_labelled(gold)
    held = load_labelled(heldout) if heldout else None
    result = train(rows, cv_repeats=repeats, heldout=held, heldout_name=str(heldout or ""), registry=registry,
                   progress=lambda message: click.echo(message, err=True))
    if as_json:
        click.echo(json.dumps(result.card, ensure_ascii=False, indent=2))
        return
    click.echo(f"saved {result.path} (active)")
    if result.card.get("cv"):
        click.echo(metrics_table(result.card["cv"]))
    if result.card.get("heldout"):
        click.echo(f"held-out {result.card['heldout']['name']}: macro-F1 {result.card['heldout']['macro_f1']:.3f}, "
                   f"micro-F1 {result.card['heldout']['micro_f1']:.3f}")


@cli.command("classify")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--model", default=None, help="Model version (folder name in the registry); default the active one.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "tsv"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None, help="Write here instead of stdout.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes.")
@click.option("--threshold-scale", type=click.FloatRange(0.01, 10.0), default=1.0, show_default=True,
              help="Multiply every label threshold (<1 labels more, >1 labels less).")
def classify_cmd(inputs: tuple[str, ...], model: str | None, fmt: str, output: Path | None, jobs: int,
                 threshold_scale: float) -> None:
    """Classify documents (txt, md, html, docx, pdf) or JSONL paragraphs; `-` reads stdin.

    One record per paragraph: id, doc, index, lang, text, labels, scores. Bad files and
    lines are reported on stderr with file and line and skipped; the exit code is then 10.

    \b
    Example:
      pmc classify seeds/*.txt --format csv -o predictions.csv
      cat paragraphs.jsonl | pmc classify - --jobs 2
    """
    from .classify import RecordWriter, classify_stream, iter_paragraphs
    from .scoring.registry import load_serving

    saved = load_serving(model)
    labels = tuple(saved.card["labels"])
    skipped: list[str] = []

    def report(message: str) -> None:
        skipped.append(message)
        click.echo(f"skipped: {message}", err=True)

    handle = output.open("w", encoding="utf-8", newline="") if output else click.get_text_stream("stdout")
    progress = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        progress = tqdm(unit=" paragraphs", file=sys.stderr, smoothing=0.1)
    try:
        writer = RecordWriter(handle, fmt, labels)
        stream = classify_stream(iter_paragraphs(inputs, on_error=report), model=saved.model, labels=labels,
                                 threshold_scale=threshold_scale, jobs=jobs, model_dir=saved.path)
        for batch in stream:
            writer.write_batch(batch)
            if progress is not None:
                progress.update(len(batch))
    finally:
        if progress is not None:
            progress.close()
        if output:
            handle.close()
    if skipped:
        click.echo(f"{len(skipped)} input(s) skipped; {writer.count} paragraphs written", err=True)
        sys.exit(EXIT_SKIPPED)


@cli.command("explain")
@click.argument("text")
@click.option("--model", default=None, help="Model version; default the active one.")
@click.option("--top", type=click.IntRange(1, 50), default=6, show_default=True, help="Evidence items per label.")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
def explain_cmd(text: str, model: str | None, top: int, as_json: bool) -> None:
    """Show which words and concepts pushed each label up or down for one paragraph.

    \b
    Example:
      pmc explain "边检站加强口岸查缉，严防偷渡人员闯关出境。"
    """
    from .scoring.explain import explain_text
    from .scoring.registry import load_serving

    saved = load_serving(model)
    explanations = explain_text(saved.model, text, top=top)
    if as_json:
        click.echo(json.dumps([e.to_dict() for e in explanations], ensure_ascii=False, indent=2))
        return
    for e in explanations:
        mark = "YES" if e.predicted else "no "
        click.echo(f"{mark} {e.label:<26} p={e.probability:.3f} (threshold {e.threshold:.2f})")
        for item in e.evidence:
            where = ", ".join(repr(text[s:t]) for s, t in item.spans[:3]) or "-"
            click.echo(f"      {item.weight:+.3f}  {item.kind:<8} {item.feature:<32} {where}")


@cli.command("evaluate")
@click.argument("gold", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", default=None, help="Model version; default the active one.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def evaluate_cmd(gold: Path, model: str | None, as_json: bool) -> None:
    """Score a saved model on any labelled JSONL file (`labels` is the truth).

    \b
    Example:
      pmc evaluate ../shared/devset/dev.jsonl
    """
    from .labels.gold import load_labelled
    from .model.evaluation import evaluate_rows
    from .report import heldout_table
    from .scoring.registry import load_serving

    saved = load_serving(model)
    rows = load_labelled(gold)
    metrics = evaluate_rows(saved.model, rows, tuple(saved.card["labels"]))
    if as_json:
        click.echo(json.dumps(metrics, ensure_ascii=False, indent=2))
    else:
        click.echo(f"{gold}: {metrics['n']} paragraphs, model {saved.version}")
        click.echo(heldout_table(metrics))


@cli.command("report")
@click.option("--gold", type=click.Path(path_type=Path), default=None, help="Labelled JSONL (default labels/gold.jsonl).")
@click.option("--heldout", type=click.Path(exists=True, path_type=Path), default=None,
              help="Labelled JSONL never trained on (e.g. ../shared/devset/dev.jsonl), scored only.")
@click.option("--repeats", type=click.IntRange(1, 20), default=3, show_default=True, help="Repeats of the grouped CV.")
@click.option("--ablation-repeats", type=click.IntRange(0, 20), default=2, show_default=True,
              help="Repeats of each ablation's grouped CV (0 skips the ablations).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/evaluation.md"), show_default=True)
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None, help="Also write the raw figures as JSON.")
def report_cmd(gold: Path | None, heldout: Path | None, repeats: int, ablation_repeats: int, out: Path,
               json_out: Path | None) -> None:
    """Write the evaluation report: grouped CV vs baselines, transfer, held-out set, ablations.

    \b
    Example:
      pmc report --heldout ../shared/devset/dev.jsonl --out docs/evaluation.md
    """
    from .report import evaluation_report, render_report
    from .labels.gold import load_labelled

    rows = load_labelled(gold)
    held = load_labelled(heldout) if heldout else None
    data = evaluation_report(rows, heldout=held, repeats=repeats, ablation_repeats=ablation_repeats,
                             ablations=None if ablation_repeats else {},
                             progress=lambda message: click.echo(message, err=True))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(data), encoding="utf-8")
    if json_out:
        json_out.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    click.echo(f"wrote {out}")


@cli.command("models")
@click.option("--activate", "version", default=None, help="Make this version the active one (roll back or forward).")
def models_cmd(version: str | None) -> None:
    """List saved model versions, or activate one.

    \b
    Example:
      pmc models
      pmc models --activate 20261122T071500123456Z
    """
    from .scoring.registry import list_models, set_active

    if version:
        set_active(version)
        click.echo(f"active: {version}")
        return
    for card in list_models():
        cv = (card.get("cv") or {}).get("models", {}).get("model", {}).get("macro_f1", {}).get("mean")
        click.echo(f"{'*' if card['active'] else ' '} {card['version']}  n={card['training_data']['size']}"
                   f"  cv macro-F1={cv if cv is None else round(cv, 3)}")


@cli.command("app")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Annotation store (default PMC_DB, else data/pmc.sqlite).")
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True, help="Port to serve on.")
@click.option("--address", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 shares the app with your network.")
def app_cmd(db: Path | None, port: int, address: str) -> None:
    """Start the labelling and review app (seeds, trains and scores on first start).

    The first start ingests seeds/*.txt, imports labels/gold.jsonl and trains a model when the
    registry has none; later starts take a second. Stop the app with Ctrl+C.

    \b
    Example:
      pmc app
      pmc app --db team.sqlite --port 8600 --address 0.0.0.0
    """
    import os
    import subprocess

    from .bootstrap import bootstrap
    from .paths import PROJECT_ROOT, default_db_path

    db_path = (db or default_db_path()).resolve()
    report = bootstrap(db_path, progress=lambda message: click.echo(message, err=True))
    click.echo(f"store {report['db']}, active model {report['active'] or 'none'}", err=True)
    command = [
        sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "app.py"),
        "--server.headless", "true", "--server.port", str(port), "--server.address", address,
        "--browser.gatherUsageStats", "false", "--", "--db", str(db_path),
    ]
    try:
        code = subprocess.call(command, cwd=PROJECT_ROOT, env={**os.environ, "PMC_DB": str(db_path)})
    except KeyboardInterrupt:
        code = 0
    sys.exit(code)


@cli.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
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
    from .corpus import ingest_path
    from .workspace import Workspace

    skipped = 0
    with Workspace.open(db) as ws:
        for path in paths:
            try:
                result = ingest_path(ws, path)
            except PmcError as exc:
                skipped += 1
                click.echo(f"skipped: {exc}", err=True)
                continue
            for line in result["skipped"]:
                click.echo(f"skipped: {line}", err=True)
            skipped += len(result["skipped"])
            click.echo(f"{path}: {result['paragraphs']} paragraphs ({result['new']} new), "
                       f"{result['scored']} scored")
    if skipped:
        sys.exit(EXIT_SKIPPED)


@labels_group.command("export")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Annotation store (default PMC_DB, else data/pmc.sqlite).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Gold JSONL to write (default labels/gold.jsonl).")
@click.option("--include-labelled", is_flag=True,
              help="Also write paragraphs with undisputed annotator labels but no gold yet.")
def labels_export_cmd(db: Path | None, out: Path | None, include_labelled: bool) -> None:
    """Write the store's gold labels (adjudicated, imported) as a gold JSONL file.

    Annotator, source, note, group and extra fields are kept, so importing the file into a
    fresh store and exporting it again gives the same file.

    \b
    Example:
      pmc labels export
      pmc labels export --db team.sqlite --out reviewed.jsonl --include-labelled
    """
    from .labels.gold import default_gold_path, write_labelled
    from .store import export_gold, open_store

    path = out or default_gold_path()
    with open_store(db) as store:
        count = write_labelled(export_gold(store, include_labelled=include_labelled), path)
    click.echo(f"{path}: {count} records")


@labels_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Annotation store (default PMC_DB, else data/pmc.sqlite).")
def labels_import_cmd(file: Path, db: Path | None) -> None:
    """Import a gold JSONL file into the store (a record equal to the current gold adds nothing).

    \b
    Example:
      pmc labels import labels/gold.jsonl
      pmc labels import reviewed.jsonl --db team.sqlite
    """
    from .labels.gold import load_labelled
    from .store import import_gold, open_store

    with open_store(db) as store:
        rows = load_labelled(file, taxonomy=store.taxonomy)
        result = import_gold(store, rows)
    click.echo(f"{file}: {result['rows']} records, {result['added']} added, {result['unchanged']} unchanged, "
               f"{result['new_paragraphs']} new paragraphs")


def _fmt_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))


def _counts_table(counts: dict[str, dict[str, int]]) -> str:
    from .labels.taxonomy import load_taxonomy

    columns = ["paragraphs", *load_taxonomy().label_ids, "none"]
    width = max(len(c) for c in columns)
    lines = [f"{'label':<{width}}  " + "  ".join(f"{lang:>8}" for lang in counts)]
    for column in columns:
        lines.append(
            f"{column:<{width}}  " + "  ".join(f"{counts[lang].get(column, 0):>8}" for lang in counts)
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI, turning library errors into one-line messages."""
    try:
        code = cli.main(args=argv, prog_name="pmc", standalone_mode=False)
    except PmcError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    sys.exit(code or 0)


if __name__ == "__main__":
    main()
