"""`pmc train`, `pmc explain`, `pmc evaluate`, `pmc report`, `pmc models`: training and judging models."""

from __future__ import annotations

import json
from pathlib import Path

import click

from . import cli


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
    from ..labels.gold import load_labelled
    from ..report import metrics_table
    from ..training import train

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
    from ..scoring.explain import explain_text
    from ..scoring.registry import load_serving

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
    from ..labels.gold import load_labelled
    from ..model.evaluation import evaluate_rows
    from ..report import heldout_table
    from ..scoring.registry import load_serving

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
    from ..report import evaluation_report, render_report
    from ..labels.gold import load_labelled

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
@click.option("--ship", is_flag=True,
              help="Copy the active version's serving form (no pickle) to models/shipped/, the model a fresh "
                   "clone's first start loads when it was trained on exactly labels/gold.jsonl.")
def models_cmd(version: str | None, ship: bool) -> None:
    """List saved model versions, activate one, or ship the active one with the repository.

    \b
    Example:
      pmc models
      pmc models --activate 20261122T071500123456Z
      pmc train --cv-repeats 0 && pmc models --ship
    """
    from ..scoring.registry import list_models, set_active, ship_version

    if ship:
        from ..bootstrap import default_shipped_path

        click.echo(f"shipped: {ship_version(version, dest=default_shipped_path())}")
        return
    if version:
        set_active(version)
        click.echo(f"active: {version}")
        return
    for card in list_models():
        cv = (card.get("cv") or {}).get("models", {}).get("model", {}).get("macro_f1", {}).get("mean")
        click.echo(f"{'*' if card['active'] else ' '} {card['version']}  n={card['training_data']['size']}"
                   f"  cv macro-F1={cv if cv is None else round(cv, 3)}")
