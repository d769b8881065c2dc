"""Rendering metric dicts as Markdown tables (readable in a terminal, pasted into docs/).

Pure functions from the dicts `classifier.evaluation` returns to strings; nothing computed here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["metrics_table", "heldout_table", "transfer_table", "ablation_table"]


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
