"""The workspace: one handle on a store, a model registry and the models loaded from it.

Every job that needs both the annotations and a model — the Label and Review pages, the
Documents page, retraining, first start — takes a `Workspace` instead of threading `store=`,
`registry=` and `model=` through each call. It answers three questions in one place:

* which model is active (`model`; the registry's `ACTIVE` file is the one record of it, and
  loaded versions are cached per process by `scoring.registry.load_version`);
* what a model says about stored paragraphs (`scores()`: from the store's score cache, the
  missing ones computed once and cached; `score_store()` fills the cache for a whole store);
* whether anything changed (`data_version()`: store changes plus the active version, the app's
  cache key).

The store's model table is kept as a log of the versions seen (`sync_models()`), never as a
second record of which one is active.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collections.abc import Mapping

from . import store as db
from .progress import Step
from .errors import PmcError
from .scoring.decision import as_label_scores, uncertainty
from .scoring.registry import SavedModel, active_version, list_models, load_version, registry_root
from .store import Store, open_store

__all__ = ["Workspace", "Progress", "SCORE_BATCH", "say", "cache_scores"]

SCORE_BATCH = 1024

Progress = Callable[[str], None] | None


def say(progress: Progress) -> Callable[[str], None]:
    """A progress callback that may be None, as a callable."""
    return progress or (lambda _message: None)


@dataclass
class Workspace:
    """A store plus a model registry. Create with `Workspace.open()` or from an open store."""

    store: Store
    registry: Path

    @classmethod
    def open(cls, db_path: str | Path | None = None, *, registry: Path | str | None = None) -> Workspace:
        return cls(open_store(db_path), registry_root(registry))

    @classmethod
    def of(cls, store: Store, registry: Path | str | None = None) -> Workspace:
        return cls(store, registry_root(registry))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- models ---------------------------------------------------------------------------
    @property
    def active_version(self) -> str | None:
        return active_version(registry=self.registry)

    @property
    def model(self) -> SavedModel | None:
        """The active model (serving form, cached per process), or None when none is active."""
        version = self.active_version
        return load_version(version, registry=self.registry) if version else None

    def load(self, version: str) -> SavedModel:
        """A registry version (SHA-256 and codebook checked; cached per process)."""
        return load_version(version, registry=self.registry)

    def sync_models(self) -> dict[str, Any]:
        """Log every registry version in the store (answers name the version they were shown).

        Returns `{"active", "registered", "conflicts"}`; a conflict is a version the store knows
        with another folder or card (e.g. a registry copied from elsewhere).
        """
        known = {m["version"] for m in db.list_model_versions(self.store)}
        registered, conflicts = [], []
        for card in list_models(registry=self.registry):
            version = card["version"]
            try:
                db.register_model(self.store, version, str(self.registry / version), _registry_card(card))
            except PmcError as exc:
                conflicts.append(f"{version}: {exc}")
                continue
            if version not in known:
                registered.append(version)
        return {"active": self.active_version, "registered": registered, "conflicts": conflicts}

    # -- scores ---------------------------------------------------------------------------
    def scores(self, paragraph_ids: Sequence[str], saved: SavedModel | None = None) -> dict[str, dict[str, float]]:
        """`{paragraph_id: {label: p}}` of a model (default the active one; {} without one).

        Read from the store's score cache; paragraphs not scored yet are scored once and cached.
        """
        saved = saved or self.model
        if saved is None:
            return {}
        cached = db.read_scores(self.store, saved.version, paragraph_ids)
        missing = [pid for pid in dict.fromkeys(paragraph_ids) if pid not in cached]
        if missing:
            texts = {pid: p.text for pid, p in db.get_paragraphs(self.store, missing).items()}
            for start in range(0, len(missing), SCORE_BATCH):
                batch = [(pid, texts[pid]) for pid in missing[start : start + SCORE_BATCH] if pid in texts]
                scores = _score_rows(saved, batch)
                cache_scores(self.store, saved.version, scores, thresholds=saved.thresholds())
                cached.update(scores)
        return cached

    def score_store(self, *, saved: SavedModel | None = None, batch_size: int = SCORE_BATCH,
                    progress: Progress = None) -> int:
        """Cache the active (or given) model's scores of every paragraph it has not scored yet.

        Batched, in store order, so a new document or a new model costs only what is missing.
        Returns the number of paragraphs scored (0 when there is no model).
        """
        saved = saved or self.model
        if saved is None:
            return 0
        tell = say(progress)
        thresholds = saved.thresholds()
        done, last = 0, 0
        total = db.unscored_count(self.store, saved.version) if progress is not None else 0
        while True:
            rows = db.unscored_paragraphs(self.store, saved.version, after=last, limit=batch_size)
            if not rows:
                return done
            last = rows[-1][0]
            scores = _score_rows(saved, [(pid, text) for _, pid, text in rows])
            cache_scores(self.store, saved.version, scores, thresholds=thresholds)
            done += len(rows)
            tell(Step(f"scored {done} of {total or done} paragraphs with model {saved.version}", "score", done,
                      total or done))

    def data_version(self) -> tuple[Any, ...]:
        """A cheap token that changes whenever answers, gold, paragraphs or the active model change."""
        return (*db.data_version(self.store), self.active_version or "")


def cache_scores(
    store: Store,
    model_version: str,
    scores: Mapping[str, Mapping[str, float] | Sequence[float]],
    *,
    thresholds: Mapping[str, float] | None = None,
) -> int:
    """Store a model version's scores `{paragraph_id: {label: p}}` with their uncertainty.

    Done once per model version (after training, or for newly added paragraphs); the active
    query strategy then reads the ranking from an index. A score row may also be a sequence of
    probabilities in codebook order. Returns the number of rows cached.
    """
    label_ids = store.taxonomy.label_ids
    rows = []
    for pid, row in scores.items():
        probabilities = as_label_scores(row, label_ids)
        rows.append((pid, probabilities, uncertainty(probabilities, thresholds)))
    return db.write_scores(store, model_version, rows)


def _registry_card(card: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in card.items() if k not in ("active", "path")}


def _score_rows(saved: SavedModel, rows: Sequence[tuple[str, str]]) -> dict[str, dict[str, float]]:
    labels = saved.labels
    probabilities = saved.model.predict_proba([text for _, text in rows])
    return {pid: {label: float(p) for label, p in zip(labels, probs)} for (pid, _), probs in zip(rows, probabilities)}
