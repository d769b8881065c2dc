"""The codebook view: the taxonomy in both languages, each label with gold examples.

Real paragraphs come first among the examples, then the codebook's own; the Codebook page and
the label definitions on the Label page draw from this.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from .. import store as db
from ..labels.gold import LabelledParagraph
from ..store import Store

__all__ = ["codebook"]


def codebook(store: Store, *, examples: int = 3) -> list[dict[str, Any]]:
    """The taxonomy in both languages, one entry per label plus `none`, each with up to
    `examples` gold paragraphs per language (paragraphs from real documents first, then the
    codebook's own examples)."""
    taxonomy = store.taxonomy
    rows = db.export_gold(store)
    by_label: dict[str, list[LabelledParagraph]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r.source == "codebook"):
        for label in row.labels or ("none",):
            by_label[label].append(row)

    def pick(label: str) -> list[dict[str, Any]]:
        chosen: list[dict[str, Any]] = []
        per_lang: dict[str, int] = defaultdict(int)
        for row in by_label.get(label, []):
            if per_lang[row.lang] < examples:
                per_lang[row.lang] += 1
                chosen.append({"lang": row.lang, "text": row.text, "labels": list(row.labels),
                               "source": row.source, "note": row.note})
        return chosen

    out = []
    for category in taxonomy.categories:
        out.append({
            "id": category.id, "name_en": category.name_en, "name_zh": category.name_zh,
            "definition_en": category.definition_en, "definition_zh": category.definition_zh,
            "include": list(category.include), "exclude": list(category.exclude),
            "terms_zh": list(category.terms_zh), "terms_en": list(category.terms_en),
            "examples": pick(category.id), "gold_count": len(by_label.get(category.id, [])),
        })
    out.append({
        "id": "none", "name_en": "None of these", "name_zh": "不属于五类措施",
        "definition_en": taxonomy.none_definition_en, "definition_zh": taxonomy.none_definition_zh,
        "include": [], "exclude": [], "terms_zh": [], "terms_en": [],
        "examples": pick("none"), "gold_count": len(by_label.get("none", [])),
    })
    return out
