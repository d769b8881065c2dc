"""Model versions the store has seen, and the cache of their scores per paragraph.

The registry (`scoring.registry`, its `ACTIVE` file) is the one record of which version is
active; the store keeps a log of every version it has seen (answers name the version whose
suggestion was shown) and each version's cached probabilities, which the active-learning queue
reads.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import LabelDataError, StoreError
from .connection import Store, _chunks, _json, _marks, _now, _read, _write, retrying
from .records import _check_name

__all__ = ["unscored_count", "register_model", "list_model_versions", "write_scores", "read_scores", "clear_scores",
           "unscored_paragraphs"]


def _model(row: tuple) -> dict[str, Any]:
    return {"version": row[0], "path": row[1], "card": json.loads(row[2]), "registered_at": row[3]}


@retrying
def register_model(store: Store, version: str, path: str | Path, card: Mapping[str, Any]) -> dict[str, Any]:
    """Record a trained model version (idempotent for the same path and card).

    A version already registered with a different path or card is refused: versions are
    immutable, save the model under a new one.
    """
    version = _check_name(version, what="model version")
    card_json = _json(dict(card))
    with _write(store) as conn:
        row = conn.execute(
            "SELECT version, path, card, registered_at FROM models WHERE version = ?", (version,)
        ).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO models (version, path, card, registered_at) VALUES (?, ?, ?, ?)",
                (version, str(path), card_json, _now()),
            )
        elif row[1] != str(path) or json.loads(row[2]) != json.loads(card_json):
            raise StoreError(
                f"{store.path}: model version {version!r} is already registered with another "
                f"path or card ({row[1]}); save the new model under a new version"
            )
        row = conn.execute(
            "SELECT version, path, card, registered_at FROM models WHERE version = ?", (version,)
        ).fetchone()
    return _model(row)


def list_model_versions(store: Store) -> list[dict[str, Any]]:
    """Every registered model version, oldest first."""
    with _read(store) as conn:
        rows = conn.execute(
            "SELECT version, path, card, registered_at FROM models ORDER BY registered_at, version"
        ).fetchall()
    return [_model(row) for row in rows]


@retrying
def write_scores(
    store: Store, model_version: str, rows: Iterable[tuple[str, Mapping[str, float], float]]
) -> int:
    """Cache `(paragraph_id, {label: p}, uncertainty)` rows for a model version (replacing).

    Probabilities are kept to 6 significant digits; each must be a number in [0, 1].
    """
    model_version = _check_name(model_version, what="model version")
    data = [
        (model_version, pid, _scores_json(pid, scores), float(u) if math.isfinite(u) else 1.0)
        for pid, scores, u in rows
    ]
    with _write(store) as conn:
        conn.executemany(
            "INSERT INTO scores (model_version, paragraph_id, scores, uncertainty) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (model_version, paragraph_id) DO UPDATE SET scores = excluded.scores, "
            "uncertainty = excluded.uncertainty",
            data,
        )
    return len(data)


_JSON_KEYS: dict[str, str] = {}


def _scores_json(pid: str, scores: Mapping[str, float]) -> str:
    # Hand-rolled: json.dumps with shortest float reprs costs ~1 s per 100,000 rows.
    parts = []
    for label, p in scores.items():
        p = float(p)
        if not 0.0 <= p <= 1.0:
            raise LabelDataError(
                f"score of paragraph {pid} for label {label!r} is {p!r}; expected a probability "
                f"between 0 and 1"
            )
        key = _JSON_KEYS.get(label) or _JSON_KEYS.setdefault(label, json.dumps(str(label)))
        parts.append(f"{key}:{p:.6g}")
    return "{" + ",".join(parts) + "}"


def read_scores(
    store: Store, model_version: str, paragraph_ids: Iterable[str] | None = None
) -> dict[str, dict[str, float]]:
    """Cached scores of a model version: `{paragraph_id: {label: p}}`."""
    with _read(store) as conn:
        if paragraph_ids is None:
            rows = conn.execute(
                "SELECT paragraph_id, scores FROM scores WHERE model_version = ?", (model_version,)
            ).fetchall()
        else:
            rows = []
            ids = list(dict.fromkeys(paragraph_ids))
            for chunk in _chunks(ids):
                rows += conn.execute(
                    f"SELECT paragraph_id, scores FROM scores WHERE model_version = ? "
                    f"AND paragraph_id IN ({_marks(len(chunk))})",
                    (model_version, *chunk),
                ).fetchall()
    return {pid: json.loads(scores) for pid, scores in rows}


def clear_scores(store: Store, *, model_version: str | None = None, keep: str | None = None) -> int:
    """Drop cached scores of one model version, or of every version but `keep`."""
    with _write(store) as conn:
        if model_version is not None:
            cursor = conn.execute("DELETE FROM scores WHERE model_version = ?", (model_version,))
        else:
            cursor = conn.execute("DELETE FROM scores WHERE model_version != ?", (keep or "",))
    return cursor.rowcount


def unscored_count(store: Store, model_version: str) -> int:
    """How many paragraphs have no cached score for `model_version`."""
    with _read(store) as conn:
        return conn.execute(
            """SELECT COUNT(*) FROM paragraphs p WHERE NOT EXISTS
            (SELECT 1 FROM scores s WHERE s.model_version = ? AND s.paragraph_id = p.paragraph_id)""",
            (model_version,),
        ).fetchone()[0]


def unscored_paragraphs(store: Store, model_version: str, *, after: int = 0, limit: int = 1000) -> list[tuple]:
    """(seq, paragraph_id, text) of paragraphs with no cached score for `model_version`, by seq."""
    with _read(store) as conn:
        return conn.execute(
            """SELECT p.seq, p.paragraph_id, p.text FROM paragraphs p WHERE p.seq > ?
            AND NOT EXISTS (SELECT 1 FROM scores s WHERE s.model_version = ? AND s.paragraph_id = p.paragraph_id)
            ORDER BY p.seq LIMIT ?""",
            (after, model_version, limit),
        ).fetchall()
