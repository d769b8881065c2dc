"""The evaluation report: grouped CV against baselines, transfer, held-out figures, ablations.

`evaluation_report()` runs everything the model's design is decided by and returns it as one
dict; `render_report()` turns that dict into the Markdown of docs/evaluation.md, with the table
helpers below (`metrics_table()`, `heldout_table()`, ... — pure functions from metric dicts to
Markdown, also used by the CLI). The held-out set (the shared development set) is only ever
scored, never trained on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from .labels.gold import LabelledParagraph
from .labels.taxonomy import Taxonomy, load_taxonomy
from .model.evaluation import cross_language_transfer, cross_validate, cv_components, evaluate_rows, fit_model
from .training import SHIPPED_PARAMS, baseline_factories, is_real, make_model, real_rows_to_score

__all__ = ["ABLATIONS", "evaluation_report", "render_report", "metrics_table", "heldout_table", "transfer_table",
           "ablation_table"]


# Each variant changes one thing of the shipped configuration.
ABLATIONS: dict[str, dict[str, Any]] = {
    "shipped": {},
    "the previous shipped model (min_df 1, no NB scaling, no en_real terms)": {"min_df": 1, "nb_scale": 0.0,
                                                                             "real_en_terms": False},
    "without naive-Bayes scaling": {"nb_scale": 0.0},
    "without the concepts' en_real terms": {"real_en_terms": False},
    "n-grams seen once kept (min_df 1)": {"min_df": 1},
    "without concept features": {"use_concepts": False},
    "without Han character n-grams": {"use_chars": False},
    "with English subword n-grams": {"use_subwords": True},
    "word features at weight 1": {"word_weight": 1.0},
    "C = 2 (stronger regularisation)": {"C": 2.0},
    "without the jieba domain dictionary": {"term_dictionary": False},
    "without tuned thresholds (0.5)": {"tune_thresholds": False},
    "without calibration": {"calibrate": False},
    "calibration and thresholds fitted on real rows only": {"calibrate_sources": ("seed", "real")},
    "codebook examples at half weight": {"source_weights": (("codebook", 0.5),)},
    "without codebook examples (weight 0)": {"source_weights": (("codebook", 0.0),)},
    "word unigrams only": {"word_ngrams": (1, 1)},
    "with plural stemming": {"stem": True},
}


def _fit(taxonomy: Taxonomy, rows: Sequence[LabelledParagraph], **overrides: Any) -> Any:
    return fit_model(make_model(taxonomy, **overrides), rows, taxonomy.label_ids, cv_components(rows))


LEARNING_CURVE = (0, 250, 500, 1000)  # real rows added to the codebook examples (then: all of them)


def learning_curve(rows: Sequence[LabelledParagraph], heldout: Sequence[LabelledParagraph], taxonomy: Taxonomy,
                   *, sizes: Sequence[int] = LEARNING_CURVE, seed: int = 0) -> list[dict[str, Any]]:
    """Held-out macro F1 of the shipped model trained on the codebook examples plus the first `n`
    real rows of a fixed shuffle of the real documents (whole documents, so pages stay together)."""
    import random

    codebook = [r for r in rows if not is_real(r)]
    real = [r for r in rows if is_real(r)]
    docs = sorted({r.doc for r in real})
    random.Random(seed).shuffle(docs)
    order = {doc: i for i, doc in enumerate(docs)}
    real.sort(key=lambda r: (order[r.doc], r.index))
    out = []
    for n in [*[s for s in sizes if s < len(real)], len(real)]:
        subset = codebook + real[:n]  # harvested terms only where these rows support them
        metrics = evaluate_rows(_fit(taxonomy, subset, training_rows=subset), heldout, taxonomy.label_ids)
        out.append({"real_rows": n, "macro_f1": metrics["macro_f1"],
                    **{f"macro_{lang}": metrics["by_lang"].get(lang, {}).get("macro_f1") for lang in ("zh", "zh-Hant", "en")}})
    return out


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
    evaluate = real_rows_to_score(rows)
    say("grouped cross-validation on the real rows (codebook examples train only): model and baselines")
    cv = cross_validate(rows, {"model": lambda fold_rows: make_model(taxonomy, training_rows=fold_rows), **baselines},
                        labels, repeats=repeats, evaluate=evaluate)
    say("cross-language transfer")
    transfer = cross_language_transfer([r for r in rows if evaluate is None or evaluate(r)],
                                       lambda fold_rows: make_model(taxonomy, training_rows=fold_rows), labels)
    report: dict[str, Any] = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "taxonomy_hash": taxonomy.hash,
        "n_rows": len(rows),
        "by_source": dict(Counter(r.source for r in rows)),
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in SHIPPED_PARAMS.items()},
        "cv": cv,
        "transfer": transfer,
    }
    if heldout:
        say("held-out set: shipped model and baselines")
        report["heldout"] = {"n": len(heldout), "model": evaluate_rows(_fit(taxonomy, rows), heldout, labels)}
        for name, make in baselines.items():
            baseline = fit_model(make(rows), rows, labels)
            report["heldout"][name] = evaluate_rows(baseline, heldout, labels)
    table = []
    for name, overrides in (ablations if ablations is not None else ABLATIONS).items():
        say(f"ablation: {name}")
        def variant(fold_rows: Sequence[LabelledParagraph], o: dict[str, Any] = overrides) -> Any:
            return make_model(taxonomy, training_rows=fold_rows, **o)

        variant_cv = cross_validate(rows, {"m": variant}, labels, repeats=ablation_repeats,
                                    evaluate=evaluate)["models"]["m"]
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
    if heldout and evaluate is not None:
        say("learning curve on the held-out set")
        report["learning_curve"] = learning_curve(rows, heldout, taxonomy)
    return report


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
        f"Training rows by source: {report.get('by_source', {})}.",
        "",
        "## Grouped cross-validation on the real rows",
        "",
        "Folds over the real paragraphs only (seeds and the real corpus), grouped by source page and by story "
        "(pages sharing two or more distinctive figures); the codebook examples are in every training fold and "
        "never scored.",
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
    if report.get("learning_curve"):
        parts += ["", f"## Learning curve: {heldout_name} macro F1 by real rows added to the codebook examples", "",
                  "| real rows | macro F1 | zh | zh-Hant | en |", "|---|---|---|---|---|"]
        for point in report["learning_curve"]:
            cells = [point["macro_f1"], point["macro_zh"], point["macro_zh-Hant"], point["macro_en"]]
            parts.append(f"| {point['real_rows']} | " + " | ".join("-" if c is None else f"{c:.3f}" for c in cells) + " |")
    if report.get("ablation"):
        parts += ["", "## Ablations (one change each from the shipped configuration; chosen on the real CV)", ""]
        rows = report["ablation"]
        if "dev_macro" in rows[0]:
            parts.append(ablation_table(rows))
        else:
            parts += ["| variant | grouped-CV macro F1 |", "|---|---|"]
            parts += [f"| {r['variant']} | {r['cv_macro']:.3f} ± {r['cv_sd']:.3f} |" for r in rows]
    return "\n".join(parts) + "\n"


# --- Markdown tables ----------------------------------------------------------------------


def _ms(value: dict[str, float]) -> str:
    return f"{value['mean']:.3f} ± {value['sd']:.3f}"


def metrics_table(cv: dict[str, Any]) -> str:
    """Grouped-CV summary: per label F1 (mean ± sd) for each model, then overall and by language."""
    models = cv["models"]
    names = list(models)
    labels = list(next(iter(models.values()))["per_label"])
    lines = [
        f"Grouped CV: {cv['n']} paragraphs in {cv['n_components']} document/duplicate groups, "
        f"{cv['n_splits']} folds x {cv['repeats']} repeats (mean ± sd); no group on both sides of a split.",
        "",
        "| F1 | " + " | ".join(names) + " | best |",
        "|---|" + "---|" * (len(names) + 1),
    ]
    for label in labels:
        values = {n: models[n]["per_label"][label]["f1"] for n in names}
        best = max(names, key=lambda n: values[n]["mean"])
        lines.append(f"| {label} | " + " | ".join(_ms(values[n]) for n in names) + f" | {best} |")
    for key in ("macro_f1", "micro_f1", "subset_accuracy"):
        best = max(names, key=lambda n: models[n][key]["mean"])
        lines.append(f"| **{key}** | " + " | ".join(_ms(models[n][key]) for n in names) + f" | {best} |")
    langs = sorted({lang for n in names for lang in models[n].get("by_lang", {})})
    for lang in langs:
        present = [n for n in names if lang in models[n]["by_lang"]]
        lines.append(
            f"| macro_f1 [{lang}, n={models[present[0]]['by_lang'][lang]['n']}] | "
            + " | ".join(_ms(models[n]["by_lang"][lang]["macro_f1"]) if n in present else "-" for n in names)
            + " | |"
        )
    return "\n".join(lines)


def heldout_table(metrics: dict[str, Any]) -> str:
    """One model on one labelled set: per label P/R/F1/support, overall and by language."""
    lines = ["| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for label, m in metrics["per_label"].items():
        lines.append(f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
    lines.append(f"| **macro F1** | | | {metrics['macro_f1']:.3f} | {metrics['n']} |")
    lines.append(f"| **micro F1** | | | {metrics['micro_f1']:.3f} | |")
    lines.append(f"| **subset accuracy** | | | {metrics['subset_accuracy']:.3f} | |")
    for lang, m in metrics.get("by_lang", {}).items():
        lines.append(f"| macro F1 [{lang}] | | | {m['macro_f1']:.3f} | {m['n']} |")
    return "\n".join(lines)


def transfer_table(transfer: dict[str, Any]) -> str:
    lines = ["| direction | train n | test n | macro F1 | micro F1 |", "|---|---|---|---|---|"]
    for name, m in transfer.items():
        lines.append(f"| {name} | {m['n_train']} | {m['n']} | {m['macro_f1']:.3f} | {m['micro_f1']:.3f} |")
    return "\n".join(lines)


def ablation_table(rows: list[dict[str, Any]]) -> str:
    """Rows of {"variant", "cv_macro", "cv_sd", "dev_macro", "dev_zh", "dev_en", "dev_zh_hant"}."""
    lines = [
        "| variant | grouped-CV macro F1 | dev macro F1 | dev zh | dev zh-Hant | dev en |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['cv_macro']:.3f} ± {r['cv_sd']:.3f} | {r['dev_macro']:.3f} | "
            f"{r['dev_zh']:.3f} | {r['dev_zh_hant']:.3f} | {r['dev_en']:.3f} |"
        )
    return "\n".join(lines)
