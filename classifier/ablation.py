"""The evaluation report: grouped CV against baselines, transfer, held-out figures, ablations.

`evaluation_report()` runs everything the model's design is decided by and returns it as one
dict; `render_report()` turns that dict into the Markdown of docs/evaluation.md. The held-out
set (the shared development set) is only ever scored, never trained on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from .evaluation import cross_language_transfer, cross_validate, evaluate_rows
from .labelled_data import LabelledParagraph
from .report import ablation_table, heldout_table, metrics_table, transfer_table
from .splits import split_components
from .taxonomy import Taxonomy, load_taxonomy
from .training import SHIPPED_PARAMS, baseline_factories, make_model

__all__ = ["ABLATIONS", "evaluation_report", "render_report"]

# Each variant changes one thing of the shipped configuration.
ABLATIONS: dict[str, dict[str, Any]] = {
    "shipped": {},
    "without concept features": {"use_concepts": False},
    "concept features only (no words)": {"use_words": False},
    "word features at full weight (1.0)": {"word_weight": 1.0},
    "with Han character n-grams": {"use_chars": True},
    "without the jieba domain dictionary": {"term_dictionary": False},
    "without tuned thresholds (0.5)": {"tune_thresholds": False},
    "without calibration": {"calibrate": False},
    "word unigrams only": {"word_ngrams": (1, 1)},
    "with plural stemming": {"stem": True},
    "C = 0.25 (stronger regularisation)": {"C": 0.25},
    "C = 4 (weaker regularisation)": {"C": 4.0},
}


def _fit(taxonomy: Taxonomy, rows: Sequence[LabelledParagraph], **overrides: Any) -> Any:
    from .evaluation import label_matrix

    model = make_model(taxonomy, **overrides)
    groups = split_components([r.doc for r in rows], [r.group for r in rows])
    return model.fit([r.text for r in rows], label_matrix(rows, taxonomy.label_ids), groups=groups)


def evaluation_report(
    rows: Sequence[LabelledParagraph],
    *,
    heldout: Sequence[LabelledParagraph] | None = None,
    taxonomy: Taxonomy | None = None,
    repeats: int = 3,
    ablation_repeats: int = 2,
    ablations: dict[str, dict[str, Any]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Everything docs/evaluation.md reports, as data."""
    taxonomy = taxonomy or load_taxonomy()
    labels = taxonomy.label_ids
    say = progress or (lambda _m: None)
    baselines = baseline_factories(taxonomy)
    say("grouped cross-validation: model and baselines")
    cv = cross_validate(rows, {"model": lambda: make_model(taxonomy), **baselines}, labels, repeats=repeats)
    say("cross-language transfer")
    transfer = cross_language_transfer(rows, lambda: make_model(taxonomy), labels)
    report: dict[str, Any] = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "taxonomy_hash": taxonomy.hash,
        "n_rows": len(rows),
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in SHIPPED_PARAMS.items()},
        "cv": cv,
        "transfer": transfer,
    }
    if heldout:
        say("held-out set: shipped model and baselines")
        report["heldout"] = {"n": len(heldout), "model": evaluate_rows(_fit(taxonomy, rows), heldout, labels)}
        for name, make in baselines.items():
            baseline = make().fit([r.text for r in rows], _matrix(rows, labels))
            report["heldout"][name] = evaluate_rows(baseline, heldout, labels)
    table = []
    for name, overrides in (ablations if ablations is not None else ABLATIONS).items():
        say(f"ablation: {name}")
        variant_cv = cross_validate(rows, {"m": lambda o=overrides: make_model(taxonomy, **o)}, labels,
                                    repeats=ablation_repeats)["models"]["m"]
        entry: dict[str, Any] = {"variant": name, "overrides": {k: list(v) if isinstance(v, tuple) else v
                                                                 for k, v in overrides.items()},
                                 "cv_macro": variant_cv["macro_f1"]["mean"], "cv_sd": variant_cv["macro_f1"]["sd"]}
        if heldout:
            metrics = evaluate_rows(_fit(taxonomy, rows, **overrides), heldout, labels)
            entry.update(dev_macro=metrics["macro_f1"],
                         dev_zh=metrics["by_lang"].get("zh", {}).get("macro_f1", float("nan")),
                         dev_zh_hant=metrics["by_lang"].get("zh-Hant", {}).get("macro_f1", float("nan")),
                         dev_en=metrics["by_lang"].get("en", {}).get("macro_f1", float("nan")))
        table.append(entry)
    report["ablation"] = table
    return report


def _matrix(rows: Sequence[LabelledParagraph], labels: Sequence[str]) -> Any:
    from .evaluation import label_matrix

    return label_matrix(rows, labels)


def _winners(cv: dict[str, Any]) -> str:
    models = cv["models"]
    lines = []
    for label in next(iter(models.values()))["per_label"]:
        best = max(models, key=lambda n: models[n]["per_label"][label]["f1"]["mean"])
        lines.append(f"- `{label}`: **{best}** wins")
    best = max(models, key=lambda n: models[n]["macro_f1"]["mean"])
    lines.append(f"- macro F1 overall: **{best}** wins")
    return "\n".join(lines)


def render_report(report: dict[str, Any], *, heldout_name: str = "development set") -> str:
    """docs/evaluation.md from `evaluation_report()`'s dict."""
    parts = [
        "# Evaluation report",
        "",
        f"Generated by `pmc report` on {report['created']} (codebook {report['taxonomy_hash']}, "
        f"{report['n_rows']} labelled paragraphs). Shipped parameters: `{report['params']}`.",
        "",
        "## Grouped cross-validation on the gold labels (seeds + codebook examples)",
        "",
        metrics_table(report["cv"]),
        "",
        "Which wins, per label:",
        "",
        _winners(report["cv"]),
        "",
        "## Cross-language transfer (train on one language, test on the other)",
        "",
        "Test paragraphs that share a duplicate group with the training side (translations) are dropped.",
        "",
        transfer_table(report["transfer"]),
    ]
    if "heldout" in report:
        held = report["heldout"]
        parts += [
            "",
            f"## Held-out {heldout_name} ({held['n']} paragraphs from other real documents; never trained on)",
            "",
            "Shipped model:",
            "",
            heldout_table(held["model"]),
            "",
            "| model | macro F1 | micro F1 | zh | zh-Hant | en |",
            "|---|---|---|---|---|---|",
        ]
        for name in [k for k in held if k != "n"]:
            m = held[name]
            by = m["by_lang"]
            parts.append(
                f"| {name} | {m['macro_f1']:.3f} | {m['micro_f1']:.3f} | "
                + " | ".join(f"{by[lang]['macro_f1']:.3f}" if lang in by else "-" for lang in ("zh", "zh-Hant", "en"))
                + " |"
            )
    if report.get("ablation"):
        parts += ["", "## Ablations (one change each from the shipped configuration)", ""]
        rows = report["ablation"]
        if "dev_macro" in rows[0]:
            parts.append(ablation_table(rows))
        else:
            parts += ["| variant | grouped-CV macro F1 |", "|---|---|"]
            parts += [f"| {r['variant']} | {r['cv_macro']:.3f} ± {r['cv_sd']:.3f} |" for r in rows]
    return "\n".join(parts) + "\n"
