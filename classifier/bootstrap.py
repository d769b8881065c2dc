"""First start: make a store and a model registry ready for the app, idempotently.

`bootstrap()` seeds an empty store (the seed documents, `labels/gold.jsonl`), trains a first
model when the registry has none, logs the registry's versions in the store and fills the
score cache the active-learning queue reads. Once done it takes a second.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import store as db
from .labels.gold import (
    LabelledParagraph, data_fingerprint, default_gold_path, default_seeds_dir, default_unlabelled_path, load_labelled,
)
from .corpus import ingest_path
from .paths import PROJECT_ROOT
from .scoring.registry import install_shipped
from .store.users import SYSTEM
from .workspace import Progress, Workspace, say

__all__ = ["bootstrap", "default_shipped_path"]


def default_shipped_path() -> Path:
    """The default model's serving form, shipped in the repository (`pmc models ship`)."""
    return PROJECT_ROOT / "models" / "shipped"


def _min_rows() -> int:
    from .training import MIN_ROWS

    return MIN_ROWS


def _shipped_for(rows: Sequence[LabelledParagraph], taxonomy_hash: str, shipped: str | Path | None) -> Path | None:
    """The shipped model's folder if it was trained on exactly `rows` under this codebook."""
    folder = Path(shipped) if shipped is not None else default_shipped_path()
    try:
        card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    trained_on = card.get("training_data", {}).get("hash")
    if card.get("taxonomy_hash") != taxonomy_hash or trained_on != data_fingerprint(rows):
        return None
    return folder


def bootstrap(
    db_path: str | Path | None = None,
    *,
    registry: Path | str | None = None,
    progress: Progress = None,
    gold: str | Path | Sequence[LabelledParagraph] | None = None,
    seeds_dir: str | Path | None = None,
    unlabelled: str | Path | None = None,
    shipped: str | Path | None = None,
    cv_repeats: int = 0,
    score: bool = True,
) -> dict[str, Any]:
    """Make a store and registry ready for the app; idempotent, and fast once done.

    On an empty store: ingest every `seeds/*.txt` and the real documents shipped without labels
    (`unlabelled`, default `labels/unlabelled.jsonl`: what a new team labels first), and import
    the gold file (`gold`: a path or rows, default `labels/gold.jsonl`). When the registry has no active model: train one on the
    store's gold rows (no cross-validation by default, so a first start is quick: retraining on the Model page reports CV) and activate it. Always: log the
    registry's versions in the store and score the paragraphs the active model has not scored.
    Returns what was done: `db`, `registry`, `seeded`, `documents`, `gold`, `trained`,
    `active`, `scored`.
    """
    tell = say(progress)
    with Workspace.open(db_path, registry=registry) as ws:
        store, root = ws.store, ws.registry
        report: dict[str, Any] = {
            "db": str(store.path), "registry": str(root), "seeded": False, "documents": 0, "gold": None,
            "trained": None, "installed": None, "active": None, "scored": 0,
        }
        if db.is_empty(store):
            folder = Path(seeds_dir or default_seeds_dir())
            paths = sorted(folder.glob("*.txt"))
            tell(f"first start: ingesting {len(paths)} seed documents from {folder}")
            for path in paths:
                ingest_path(ws, path, by=SYSTEM)
            pool = Path(unlabelled or default_unlabelled_path())
            if pool.is_file():
                found = ingest_path(ws, pool, by=SYSTEM)
                tell(f"ingested {found['paragraphs']} unlabelled paragraphs of {len(found['docs'])} real documents")
            rows = list(gold) if isinstance(gold, Sequence) and not isinstance(gold, str) else load_labelled(
                gold or default_gold_path(), taxonomy=store.taxonomy
            )
            tell(f"importing {len(rows)} gold labels")
            report["gold"] = db.import_gold(store, rows)
            report["seeded"], report["documents"] = True, len(paths)
        if ws.active_version is None:
            rows = db.gold_rows(store)
            ready = _shipped_for(rows, store.taxonomy.hash, shipped)
            if ready is not None:
                report["installed"] = install_shipped(ready, registry=root)
                tell(f"installed the shipped model {report['installed']} (trained on exactly these "
                     f"{len(rows)} labelled paragraphs); retrain on the Model page as labels grow")
            elif len(rows) >= _min_rows():
                tell(f"no active model in {root}: training one on {len(rows)} labelled paragraphs")
                from .training import train  # scikit-learn is imported only when a model is fitted

                result = train(rows, taxonomy=store.taxonomy, cv_repeats=cv_repeats, registry=root, progress=tell)
                report["trained"] = result.path.name if result.path else None
            else:
                tell(f"no active model and only {len(rows)} labelled paragraphs: label some, then retrain")
        report["active"] = ws.sync_models()["active"]
        if score and report["active"]:
            report["scored"] = ws.score_store(progress=tell)
    return report
