"""Retraining: what the Model page does with model versions, as plain functions.

`retrain()` trains a candidate on the store's current gold and saves it, NOT active;
`compare()` puts its grouped-CV figures next to the active model's; `promote()` activates a
version and scores the pool with it; `rollback()` reactivates an earlier one; `discard()`
deletes a version that is not active; `history()` lists every version the registry or the
store has seen.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from . import store as db
from .errors import ModelError
from .scoring.registry import forget_version, list_models, resolve_model_dir, set_active
from .training import MIN_ROWS, check_trainable, train
from .store.users import authorize, record_event
from .workspace import Progress, Workspace, say

__all__ = ["MIN_TRAINING_ROWS", "retrain", "compare", "promote", "rollback", "discard", "history"]

MIN_TRAINING_ROWS = MIN_ROWS


def _card(root: Path, version: str) -> dict[str, Any]:
    folder = resolve_model_dir(version, registry=root)
    try:
        return json.loads((folder / "card.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{folder / 'card.json'}: unreadable model card ({exc}); discard this version") from None


def retrain(
    ws: Workspace,
    *,
    by: str,
    progress: Progress = None,
    cv_repeats: int = 1,
    cv_folds: int = 5,
) -> dict[str, Any]:
    """Train a candidate on the store's current gold (`store.gold_rows`) and save it, NOT active.

    The candidate is registered in the store; `compare()` it with the active model, then
    `promote()` or `discard()` it. Returns its card (with `version` and `path`). `by` is who
    asked (an admin, or `users.SYSTEM`); it is checked first and logged.
    """
    store, root = ws.store, ws.registry
    authorize(store, by, "admin")
    rows = db.gold_rows(store)
    try:
        check_trainable(rows, store.taxonomy.label_ids, cv_folds=cv_folds if cv_repeats > 0 else 0)
    except ModelError as exc:
        raise ModelError(f"{store.path}: {exc}") from None
    say(progress)(f"training on {len(rows)} labelled paragraphs (gold and undisputed answers)")
    result = train(rows, taxonomy=store.taxonomy, cv_repeats=cv_repeats, cv_folds=cv_folds, registry=root,
                   activate=False, progress=progress)
    if result.path is None:  # save=True always gives a path
        raise ModelError("training did not save a model version; retry")
    card = _card(root, result.path.name)
    db.register_model(store, card["version"], str(root / card["version"]), card)
    record_event(store, by, "model.retrain", card["version"], {"size": card["training_data"]["size"]})
    return {**card, "path": str(root / card["version"])}


def _f1(card: dict[str, Any] | None, label: str | None, key: str = "f1") -> float | None:
    cv = (card or {}).get("cv") or {}
    summary = cv.get("models", {}).get("model")
    if not summary:
        return None
    if label is None:
        return float(summary[key]["mean"])
    return float(summary["per_label"][label]["f1"]["mean"])


def compare(ws: Workspace, candidate: str) -> dict[str, Any]:
    """Per-label grouped-CV F1 of a candidate version next to the active model's.

    Each model's CV ran on its own training data (the card says how many paragraphs); a value
    is None when that model was trained without CV. Returns `{"candidate", "active", "sizes",
    "rows": [{"metric", "candidate", "active", "delta"}]}`.
    """
    root = ws.registry
    cand = _card(root, candidate)
    current = ws.active_version
    act = _card(root, current) if current else None
    rows = []
    for label in cand["labels"]:
        rows.append(_compare_row(label, _f1(cand, label), _f1(act, label) if act else None))
    for key in ("macro_f1", "micro_f1"):
        rows.append(_compare_row(key, _f1(cand, None, key), _f1(act, None, key) if act else None))
    return {
        "candidate": candidate,
        "active": current,
        "sizes": {"candidate": cand["training_data"]["size"], "active": act["training_data"]["size"] if act else None},
        "cv": {"candidate": bool(cand.get("cv")), "active": bool(act and act.get("cv"))},
        "rows": rows,
    }


def _compare_row(metric: str, cand: float | None, act: float | None) -> dict[str, Any]:
    delta = cand - act if cand is not None and act is not None else None
    return {"metric": metric, "candidate": cand, "active": act, "delta": delta}


def promote(ws: Workspace, version: str, *, by: str, progress: Progress = None,
            _action: str = "model.promote") -> dict[str, Any]:
    """Make `version` the active model (the registry's `ACTIVE` file), and score the pool with
    it so the active-learning queue follows. `by` must be an admin; the change is logged.
    Returns `{"active", "previous", "scored"}`."""
    authorize(ws.store, by, "admin")
    previous = ws.active_version
    saved = ws.load(version)  # refuses tampered or incompatible versions first
    set_active(version, registry=ws.registry)
    ws.sync_models()
    record_event(ws.store, by, _action, version, {"previous": previous})
    scored = ws.score_store(saved=saved, progress=progress)
    return {"active": version, "previous": previous, "scored": scored}


def rollback(ws: Workspace, version: str, *, by: str, progress: Progress = None) -> dict[str, Any]:
    """Reactivate an earlier version (the same as `promote`, named for the history view)."""
    if version == ws.active_version:
        raise ModelError(f"{version} is already the active model; pick another version to roll back to")
    return promote(ws, version, by=by, progress=progress, _action="model.rollback")


def discard(ws: Workspace, version: str, *, by: str) -> dict[str, Any]:
    """Delete a version folder that is not active and drop its cached scores.

    The store keeps its row in the model table (answers may name it); `history()` shows it as
    discarded. Returns `{"discarded", "scores_dropped"}`.
    """
    root = ws.registry
    authorize(ws.store, by, "admin")
    if version == ws.active_version:
        raise ModelError(f"{version} is the active model; promote or roll back to another version first")
    folder = root / version
    # Only a plain version name of this registry is ever deleted: no paths, no hidden folders.
    if Path(version).name != version or version.startswith(".") or not (folder / "card.json").is_file():
        raise ModelError(f"{version!r} is not a model version of the registry {root}; nothing deleted "
                         f"(see the version history for the names)")
    shutil.rmtree(folder)
    forget_version(version, registry=root)
    dropped = db.clear_scores(ws.store, model_version=version)
    record_event(ws.store, by, "model.discard", version)
    return {"discarded": version, "scores_dropped": dropped}


def history(ws: Workspace) -> list[dict[str, Any]]:
    """Every model version the registry or the store knows, newest first.

    Each: `version`, `created`, `active`, `available` (folder still in the registry), `size`
    (training paragraphs), `macro_f1` (grouped CV, None without CV), `labels` (training counts).
    """
    root = ws.registry
    cards = {c["version"]: c for c in list_models(registry=root)}
    for row in db.list_model_versions(ws.store):
        cards.setdefault(row["version"], {**row["card"], "version": row["version"]})
    active = ws.active_version
    out = []
    for version, card in cards.items():
        data = card.get("training_data", {})
        out.append({
            "version": version,
            "created": str(card.get("created", ""))[:19].replace("T", " "),
            "active": version == active,
            "available": (root / version / "card.json").is_file(),
            "size": data.get("size"),
            "macro_f1": _f1(card, None, "macro_f1"),
            "labels": data.get("label_counts", {}),
        })
    return sorted(out, key=lambda item: item["version"], reverse=True)
