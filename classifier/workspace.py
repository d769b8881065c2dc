"""The app-facing service layer: everything the labelling and review app does, as plain functions.

`app.py` only draws widgets and keeps session state; every action it offers is one function
here, returning plain data and raising `PmcError` subclasses with a one-line message:

* start-up — `bootstrap()` seeds an empty store (seed documents, `labels/gold.jsonl`), trains a
  first model when the registry has none, keeps the store's model table in step with the
  registry (`sync_models()`: the version folders and the `ACTIVE` pointer are the truth) and
  fills the score cache the active-learning queue reads (`score_store()`);
* labelling — `next_item()` hands an annotator their next paragraph with the model suggestion
  (probabilities, thresholds, pre-ticked labels, evidence spans), its neighbours and position;
  `save_answer()` appends the answer with the suggestion that was shown; `go_back()` reopens
  an earlier answer so a new row can replace it;
* review — `review_queues()`, `paragraph_review()`, `answers_table()`, `adjudicate()`,
  `agreement()`;
* models — `retrain()` (a new version, never activated), `compare()`, `promote()`,
  `rollback()`, `discard()`, `history()`;
* documents — `upload()`, `ingest_path()`, `documents()`, `predictions()`, `profiles()`,
  `download()`;
* the codebook — `codebook()`; and `highlight_html()`, which escapes paragraph text and only
  wraps escaped spans in `<mark>`: paragraph text is never rendered as raw HTML.

Models are loaded only through `registry.load_model` (registry folder, SHA-256 checked) and kept
in a small in-process cache keyed by registry and version.
"""

from __future__ import annotations

import html
import io
import json
import shutil
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import store as store_db
from .agreement import agreement_report, disagreements, flagged, likely_label_errors
from .annotation_queue import cache_scores, next_paragraph
from .classify import paragraph_from_record, profile, records_to_string
from .errors import InputError, LabelDataError, ModelError, PmcError
from .labelled_data import LabelledParagraph, default_gold_path, default_seeds_dir, load_labelled
from .paragraph import Paragraph, paragraph_id
from .paths import models_dir
from .reader import DEFAULT_MAX_BYTES, RecordError, iter_jsonl, read_document, read_document_bytes
from .registry import SavedModel, active_version, list_models, load_model, resolve_model_dir, set_active
from .segmenter import segment
from .splits import split_components
from .store import (
    Pool,
    Store,
    answers_by,
    current_labels,
    export_gold,
    get_paragraph,
    gold_rows,
    history as store_history,
    import_gold,
    ingest_document,
    ingest_paragraphs,
    latest_answers,
    latest_gold,
    list_model_versions,
    open_store,
    pool_ids,
    read_scores,
    record_answer,
    register_model,
    set_active_model,
    set_gold,
)

__all__ = [
    "ANSWER_KINDS",
    "UPLOAD_SUFFIXES",
    "DEFAULT_UPLOAD_BYTES",
    "DOWNLOAD_FORMATS",
    "MIN_TRAINING_ROWS",
    "LABEL_COLOURS",
    "LabelItem",
    "bootstrap",
    "sync_models",
    "active_model",
    "load_version",
    "score_store",
    "data_version",
    "progress_summary",
    "next_item",
    "go_back",
    "save_answer",
    "queue_preview",
    "review_queues",
    "paragraph_review",
    "answers_table",
    "describe_answer",
    "adjudicate",
    "agreement",
    "retrain",
    "compare",
    "promote",
    "rollback",
    "discard",
    "history",
    "documents",
    "upload",
    "ingest_path",
    "predictions",
    "profiles",
    "download",
    "codebook",
    "highlight_html",
]

ANSWER_KINDS = ("accept", "none", "skip", "flag")  # "none" is an accept with no label
UPLOAD_SUFFIXES = (".txt", ".md", ".text", ".html", ".htm", ".docx", ".pdf", ".jsonl")
DEFAULT_UPLOAD_BYTES = DEFAULT_MAX_BYTES
DOWNLOAD_FORMATS = ("csv", "jsonl")
MIN_TRAINING_ROWS = 20
SCORE_BATCH = 1024
MIN_SPAN_WEIGHT = 0.1  # evidence weaker than this is not highlighted (noise, e.g. "加强" +0.02)
# One soft colour per label, in codebook order (a sixth label would fall back to grey).
LABEL_COLOURS = ("#fecaca", "#bfdbfe", "#bbf7d0", "#fde68a", "#e9d5ff")
_FALLBACK_COLOUR = "#e5e7eb"

Progress = Callable[[str], None] | None


def _say(progress: Progress) -> Callable[[str], None]:
    return progress or (lambda _message: None)


def _root(registry: Path | str | None) -> Path:
    return (Path(registry) if registry is not None else models_dir()).resolve()


# --------------------------------------------------------------------------------------------
# Read-only queries the store has no public function for (documents by position, the paragraphs
# a model version has not scored yet). They go through the store's read snapshot and lock; see
# the report that asked for `document_paragraphs()`/`unscored_paragraphs()` in store.py.


def _doc_rows(store: Store, doc_ids: Sequence[str]) -> list[tuple]:
    """(doc, position, paragraph_id, text, lang, title, section) of documents, in doc order."""
    return store_db.document_rows(store, doc_ids)


# --------------------------------------------------------------------------------------------
# Models: the cached accessor, the registry <-> store sync, the score cache

_MODELS: OrderedDict[tuple[str, str], SavedModel] = OrderedDict()
_MODELS_LOCK = threading.Lock()
_MODELS_KEPT = 4


def load_version(version: str, *, registry: Path | str | None = None) -> SavedModel:
    """A registry version, loaded once per process (SHA-256 checked by `registry.load_model`)."""
    root = _root(registry)
    key = (str(root), version)
    with _MODELS_LOCK:
        if key in _MODELS:
            _MODELS.move_to_end(key)
            return _MODELS[key]
    saved = load_model(version, registry=root)
    with _MODELS_LOCK:
        _MODELS[key] = saved
        while len(_MODELS) > _MODELS_KEPT:
            _MODELS.popitem(last=False)
    return saved


def active_model(*, registry: Path | str | None = None) -> SavedModel | None:
    """The registry's active model (cached), or None when no version is active."""
    root = _root(registry)
    version = active_version(registry=root)
    return load_version(version, registry=root) if version else None


def _resolve(model: SavedModel | None, registry: Path | str | None) -> SavedModel | None:
    return model if model is not None else active_model(registry=registry)


def _thresholds(saved: SavedModel) -> dict[str, float]:
    labels = saved.card["labels"]
    return {label: float(min(t, 0.999)) for label, t in zip(labels, saved.model.thresholds_)}


def _registry_card(card: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in card.items() if k not in ("active", "path")}


def sync_models(store: Store, *, registry: Path | str | None = None) -> dict[str, Any]:
    """Register every registry version in the store and mirror the registry's `ACTIVE` pointer.

    Versions discarded from the registry stay in the store's table (answers name them) but are
    never active. Returns `{"active", "registered", "conflicts"}`; a conflict is a version the
    store knows with another folder or card (e.g. a registry copied from elsewhere).
    """
    root = _root(registry)
    known = {m["version"] for m in list_model_versions(store)}
    registered, conflicts = [], []
    for card in list_models(registry=root):
        version = card["version"]
        try:
            register_model(store, version, str(root / version), _registry_card(card))
        except PmcError as exc:
            conflicts.append(f"{version}: {exc}")
            continue
        if version not in known:
            registered.append(version)
    active = active_version(registry=root)
    usable = {m["version"] for m in list_model_versions(store)}
    current = store_db.active_model(store)
    target = active if active in usable else None
    if (current or {}).get("version") != target:
        set_active_model(store, target)
    return {"active": target, "registered": registered, "conflicts": conflicts}


def _score_rows(saved: SavedModel, rows: Sequence[tuple[str, str]]) -> dict[str, dict[str, float]]:
    labels = saved.card["labels"]
    probabilities = saved.model.predict_proba([text for _, text in rows])
    return {pid: {label: float(p) for label, p in zip(labels, probs)} for (pid, _), probs in zip(rows, probabilities)}


def _score_ids(store: Store, saved: SavedModel, pids: Sequence[str]) -> dict[str, dict[str, float]]:
    """Scores of `pids` for `saved`: from the cache, the missing ones computed and cached."""
    cached = read_scores(store, saved.version, pids)
    missing = [pid for pid in dict.fromkeys(pids) if pid not in cached]
    if missing:
        texts = {pid: p.text for pid, p in store_db.get_paragraphs(store, missing).items()}
        for start in range(0, len(missing), SCORE_BATCH):
            batch = [(pid, texts[pid]) for pid in missing[start : start + SCORE_BATCH] if pid in texts]
            scores = _score_rows(saved, batch)
            cache_scores(store, saved.version, scores, thresholds=_thresholds(saved))
            cached.update(scores)
    return cached


def score_store(
    store: Store,
    *,
    registry: Path | str | None = None,
    model: SavedModel | None = None,
    batch_size: int = SCORE_BATCH,
    progress: Progress = None,
) -> int:
    """Cache the active (or given) model's scores of every paragraph it has not scored yet.

    Batched, walking the paragraphs in store order, so a new document or a new model costs only
    what is missing. Returns the number of paragraphs scored (0 when there is no model).
    """
    saved = _resolve(model, registry)
    if saved is None:
        return 0
    say = _say(progress)
    thresholds = _thresholds(saved)
    done, last = 0, 0
    while True:
        rows = store_db.unscored_paragraphs(store, saved.version, after=last, limit=batch_size)
        if not rows:
            return done
        last = rows[-1][0]
        scores = _score_rows(saved, [(pid, text) for _, pid, text in rows])
        cache_scores(store, saved.version, scores, thresholds=thresholds)
        done += len(rows)
        say(f"scored {done} paragraphs with model {saved.version}")


def data_version(store: Store) -> tuple[int, int, int, str]:
    """A cheap token that changes whenever answers, gold, paragraphs or the active model change.

    The app keys its `st.cache_data` results on it.
    """
    return store_db.data_version(store)


# --------------------------------------------------------------------------------------------
# Start-up


def bootstrap(
    db_path: str | Path | None = None,
    *,
    registry: Path | str | None = None,
    progress: Progress = None,
    gold: str | Path | Sequence[LabelledParagraph] | None = None,
    seeds_dir: str | Path | None = None,
    cv_repeats: int = 1,
    score: bool = True,
) -> dict[str, Any]:
    """Make a store and registry ready for the app; idempotent, and fast once done.

    On an empty store: ingest every `seeds/*.txt` and import the gold file (`gold`: a path or
    rows, default `labels/gold.jsonl`). When the registry has no active model: train one on the
    store's gold rows (`cv_repeats` of grouped CV for its card) and activate it. Always: sync the
    store's model table with the registry and score the paragraphs the active model has not
    scored. Returns what was done: `db`, `registry`, `seeded`, `documents`, `gold`, `trained`,
    `active`, `scored`.
    """
    from .training import train

    say = _say(progress)
    root = _root(registry)
    report: dict[str, Any] = {
        "db": "", "registry": str(root), "seeded": False, "documents": 0, "gold": None,
        "trained": None, "active": None, "scored": 0,
    }
    with open_store(db_path) as store:
        report["db"] = str(store.path)
        empty = store_db.is_empty(store)
        if empty:
            folder = Path(seeds_dir or default_seeds_dir())
            paths = sorted(folder.glob("*.txt"))
            say(f"first start: ingesting {len(paths)} seed documents from {folder}")
            for path in paths:
                ingest_document(store, read_document(path))
            rows = list(gold) if isinstance(gold, Sequence) and not isinstance(gold, str) else load_labelled(
                gold or default_gold_path(), taxonomy=store.taxonomy
            )
            say(f"importing {len(rows)} gold labels")
            report["gold"] = import_gold(store, rows)
            report["seeded"], report["documents"] = True, len(paths)
        if active_version(registry=root) is None:
            rows = gold_rows(store)
            if len(rows) >= MIN_TRAINING_ROWS:
                say(f"no active model in {root}: training one on {len(rows)} labelled paragraphs")
                result = train(rows, taxonomy=store.taxonomy, cv_repeats=cv_repeats, registry=root, progress=say)
                report["trained"] = result.path.name if result.path else None
            else:
                say(f"no active model and only {len(rows)} labelled paragraphs: label some, then retrain")
        report["active"] = sync_models(store, registry=root)["active"]
        if score and report["active"]:
            report["scored"] = score_store(store, registry=root, progress=say)
    return report


# --------------------------------------------------------------------------------------------
# Labelling


@dataclass(frozen=True)
class LabelItem:
    """One paragraph as the Label page shows it, with the model suggestion and its context.

    `scores`/`thresholds` are empty and `model_version` None when no suggestion was shown
    (blind mode, or no model). `spans` are `(start, end, label, weight)` evidence spans in
    `text` for `highlight_html()`; `evidence` is `{label: ((feature, weight), ...)}`.
    `previous_answer` is set when the item reopens an earlier answer (Back).
    """

    paragraph_id: str
    text: str
    lang: str
    doc: str
    title: str
    section: str
    index: int
    doc_length: int
    before: tuple[str, ...]
    after: tuple[str, ...]
    strategy: str
    reason: str
    model_version: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    suggested: tuple[str, ...] = ()
    evidence: dict[str, tuple[tuple[str, float], ...]] = field(default_factory=dict)
    spans: tuple[tuple[int, int, str, float], ...] = ()
    others: tuple[dict[str, Any], ...] = ()
    previous_answer: dict[str, Any] | None = None
    claim_expires_at: str | None = None

    @property
    def prefill(self) -> tuple[str, ...]:
        """The labels to tick first: the earlier answer when going back, else the suggestion."""
        if self.previous_answer is not None:
            return tuple(self.previous_answer["labels"])
        return self.suggested

    @property
    def position(self) -> str:
        return f"paragraph {self.index + 1} of {self.doc_length}" if self.doc_length else ""


def _context(store: Store, paragraph: Paragraph, context: int) -> tuple[int, tuple[str, ...], tuple[str, ...], str]:
    if not paragraph.doc:
        return 0, (), (), ""
    rows, length, title = store_db.document_window(
        store, paragraph.doc, paragraph.index - context, paragraph.index + context
    )
    before = tuple(text for pos, text in rows if pos < paragraph.index)
    after = tuple(text for pos, text in rows if pos > paragraph.index)
    return int(length), before, after, title or ""


def _build_item(
    store: Store,
    paragraph: Paragraph,
    *,
    saved: SavedModel | None,
    strategy: str,
    reason: str,
    blind: bool,
    annotator: str,
    context: int,
    previous_answer: dict[str, Any] | None = None,
    claim_expires_at: str | None = None,
    explain_top: int = 8,
) -> LabelItem:
    from .explain import explain_text, highlight_spans

    length, before, after, doc_title = _context(store, paragraph, context)
    suggestion: dict[str, Any] = {}
    others: tuple[dict[str, Any], ...] = ()
    if not blind:
        if saved is not None:
            explanations = explain_text(saved.model, paragraph.text, top=explain_top)
            in_play = [e for e in explanations if e.probability >= 0.5 * e.threshold]
            suggestion = {
                "model_version": saved.version,
                "scores": {e.label: float(e.probability) for e in explanations},
                "thresholds": {e.label: float(e.threshold) for e in explanations},
                "suggested": tuple(e.label for e in explanations if e.predicted),
                "evidence": {
                    e.label: tuple((item.feature, item.weight) for item in e.evidence if item.weight > 0)[:5]
                    for e in explanations
                },
                "spans": tuple(s for s in highlight_spans(in_play) if s[3] >= MIN_SPAN_WEIGHT),
            }
        latest = latest_answers(store, [paragraph.id]).get(paragraph.id, {})
        others = tuple(_answer_dict(a) for name, a in sorted(latest.items()) if name != annotator)
    return LabelItem(
        paragraph_id=paragraph.id, text=paragraph.text, lang=paragraph.lang, doc=paragraph.doc,
        title=paragraph.title or doc_title, section=paragraph.section, index=paragraph.index,
        doc_length=length, before=before, after=after, strategy=strategy, reason=reason,
        others=others, previous_answer=previous_answer, claim_expires_at=claim_expires_at, **suggestion,
    )


def _answer_dict(answer: store_db.Answer) -> dict[str, Any]:
    return {
        "annotator": answer.annotator, "answer": answer.answer, "labels": list(answer.labels),
        "note": answer.note, "model_version": answer.model_version, "created_at": answer.created_at,
    }


def next_item(
    store: Store,
    annotator: str,
    *,
    strategy: str = "active",
    label: str | None = None,
    overlap: float = 0.0,
    blind: bool = False,
    include_gold: bool = False,
    registry: Path | str | None = None,
    model: SavedModel | None = None,
    seed: int | None = None,
    context: int = 1,
) -> LabelItem:
    """The annotator's next paragraph (claimed for them), with the active model's suggestion.

    `strategy` is one of `annotation_queue.STRATEGIES` (`keyword` needs `label`); `overlap` is
    the share of paragraphs given to two annotators for agreement; `blind` hides the model
    suggestion and the other annotators' answers. Raises `EmptyPoolError` when nothing is left.
    """
    saved = _resolve(model, registry)
    item = next_paragraph(
        store, annotator=annotator, strategy=strategy, label=label, overlap=overlap,
        include_gold=include_gold, model_version=saved.version if saved else None,
        thresholds=_thresholds(saved) if saved else None, seed=seed, blind=True,
    )
    return _build_item(
        store, item.paragraph, saved=saved, strategy=item.strategy, reason=item.reason, blind=blind,
        annotator=annotator, context=context, claim_expires_at=item.claim_expires_at,
    )


def go_back(
    store: Store,
    annotator: str,
    *,
    steps: int = 1,
    blind: bool = False,
    registry: Path | str | None = None,
    model: SavedModel | None = None,
    context: int = 1,
) -> LabelItem | None:
    """Reopen the annotator's `steps`-th most recent answer (1 = the last one) to change it.

    Saving the item appends a new answer; the old row stays (the store is append-only).
    None when the annotator has fewer answers than `steps`.
    """
    trail = answers_by(store, annotator, limit=steps)
    if len(trail) < steps:
        return None
    answer = trail[steps - 1]
    return _build_item(
        store, get_paragraph(store, answer.paragraph_id), saved=_resolve(model, registry),
        strategy="back", reason=f"your answer of {answer.created_at[:19].replace('T', ' ')} UTC",
        blind=blind, annotator=annotator, context=context, previous_answer=_answer_dict(answer),
    )


def save_answer(
    store: Store,
    item: LabelItem,
    *,
    annotator: str,
    labels: Sequence[str] = (),
    answer: str = "accept",
    note: str = "",
) -> int:
    """Append the annotator's answer on `item`, with the model version and scores it showed.

    `answer` is `accept` (the `labels`), `none` (accept with no label), `skip` or `flag`
    (labels kept for the reviewer, not counted). Returns the new row id.
    """
    if answer not in ANSWER_KINDS:
        raise LabelDataError(f"answer is {answer!r}; expected one of {', '.join(ANSWER_KINDS)}")
    kind, chosen = ("accept", ()) if answer == "none" else (answer, tuple(labels))
    return record_answer(
        store, item.paragraph_id, annotator=annotator, answer=kind, labels=list(chosen),
        model_version=item.model_version, scores=item.scores or None, note=note,
    )


def queue_preview(
    store: Store,
    annotator: str,
    *,
    n: int = 20,
    overlap: float = 0.0,
    registry: Path | str | None = None,
    model: SavedModel | None = None,
) -> list[dict[str, Any]]:
    """The `n` most uncertain pool paragraphs for the annotator (the active-learning queue now)."""
    saved = _resolve(model, registry)
    if saved is None:
        return []
    rows = pool_ids(store, Pool(annotator, overlap=overlap), order="uncertainty", model_version=saved.version, limit=n)
    texts = store_db.get_paragraphs(store, [pid for pid, _ in rows])
    return [{"paragraph_id": pid, "uncertainty": u, "text": texts[pid].text} for pid, u in rows if pid in texts]


def progress_summary(store: Store, annotator: str | None = None) -> dict[str, Any]:
    """`store.progress()` plus the annotator's own answer count (`mine`)."""
    summary = store_db.progress(store)
    if annotator:
        summary["mine"] = summary["annotators"].get(annotator, {}).get("paragraphs", 0)
    return summary


# --------------------------------------------------------------------------------------------
# Review


def review_queues(
    store: Store,
    *,
    registry: Path | str | None = None,
    model: SavedModel | None = None,
    margin: float = 0.4,
) -> dict[str, list[dict[str, Any]]]:
    """The three review queues: `disagreements`, `model_vs_gold` (likely label errors), `flagged`."""
    saved = _resolve(model, registry)
    errors: list[dict[str, Any]] = []
    if saved is not None:
        ids = [row.id for row in gold_rows(store)]
        scores = _score_ids(store, saved, ids)
        errors = likely_label_errors(store, scores, thresholds=_thresholds(saved), margin=margin)
    return {"disagreements": disagreements(store), "model_vs_gold": errors, "flagged": flagged(store)}


def paragraph_review(
    store: Store, paragraph_id: str, *, registry: Path | str | None = None, model: SavedModel | None = None
) -> dict[str, Any]:
    """Everything a reviewer needs on one paragraph: text, every annotator's latest answer side
    by side, the full history, the current gold and derived label, and the model's scores."""
    paragraph = get_paragraph(store, paragraph_id)
    latest = latest_answers(store, [paragraph_id]).get(paragraph_id, {})
    gold = latest_gold(store, [paragraph_id]).get(paragraph_id)
    current = current_labels(store, [paragraph_id])[paragraph_id]
    saved = _resolve(model, registry)
    scores = _score_ids(store, saved, [paragraph_id]).get(paragraph_id, {}) if saved else {}
    events = []
    for event in store_history(store, paragraph_id):
        if isinstance(event, store_db.GoldDecision):
            events.append({"when": event.created_at, "who": event.reviewer, "what": f"gold ({event.source})",
                           "labels": list(event.labels), "note": event.note})
        else:
            events.append({"when": event.created_at, "who": event.annotator, "what": event.answer,
                           "labels": list(event.labels), "note": event.note})
    return {
        "paragraph_id": paragraph_id, "text": paragraph.text, "doc": paragraph.doc, "index": paragraph.index,
        "title": paragraph.title, "lang": paragraph.lang,
        "answers": [_answer_dict(a) for _, a in sorted(latest.items())],
        "history": events,
        "gold": None if gold is None else {
            "labels": list(gold.labels), "reviewer": gold.reviewer, "source": gold.source,
            "note": gold.note, "created_at": gold.created_at,
        },
        "current": {"labels": list(current.labels), "status": current.status,
                    "disputed_labels": list(current.disputed_labels)},
        "scores": scores,
        "thresholds": _thresholds(saved) if saved else {},
        "model_version": saved.version if saved else None,
    }


def answers_table(store: Store, *, limit: int | None = 1000) -> list[dict[str, Any]]:
    """Every answered paragraph with each annotator's latest answer in its own column.

    Rows: `paragraph_id`, `text`, `status`, `current`, `gold`, then one key per annotator
    (`labels`, `none`, `skip` or `flag: ...`); most recently answered first.
    """
    latest = latest_answers(store)
    order = sorted(latest, key=lambda pid: -max(a.id for a in latest[pid].values()))
    if limit is not None:
        order = order[:limit]
    current = current_labels(store, order)
    gold = latest_gold(store, order)
    texts = store_db.get_paragraphs(store, order)
    annotators = sorted({name for pid in order for name in latest[pid]})
    rows = []
    for pid in order:
        row: dict[str, Any] = {
            "paragraph_id": pid, "text": texts[pid].text, "status": current[pid].status,
            "current": ", ".join(current[pid].labels) or "—",
            "gold": (", ".join(gold[pid].labels) or "none") if pid in gold else "",
        }
        for name in annotators:
            answer = latest[pid].get(name)
            row[name] = "" if answer is None else describe_answer(answer.answer, answer.labels)
        rows.append(row)
    return rows


def describe_answer(kind: str, labels: Sequence[str]) -> str:
    """An answer in one short phrase: `enforcement, border_patrol`, `none`, `skip`, `flag: ...`."""
    if kind == "accept":
        return ", ".join(labels) or "none"
    return f"{kind}: {', '.join(labels)}" if labels else kind


def adjudicate(
    store: Store, paragraph_id: str, labels: Sequence[str], *, reviewer: str, note: str = ""
) -> int:
    """Set the final (gold) labels of a paragraph as a reviewer; returns the gold row id."""
    return set_gold(store, paragraph_id, labels=list(labels), reviewer=reviewer, note=note, source="review")


def agreement(store: Store) -> dict[str, Any]:
    """Inter-annotator agreement per label, overall and per annotator (`agreement_report`)."""
    return agreement_report(store)


# --------------------------------------------------------------------------------------------
# Model versions


def _card(root: Path, version: str) -> dict[str, Any]:
    folder = resolve_model_dir(version, registry=root)
    try:
        return json.loads((folder / "card.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{folder / 'card.json'}: unreadable model card ({exc}); discard this version") from None


def retrain(
    store: Store,
    *,
    registry: Path | str | None = None,
    progress: Progress = None,
    cv_repeats: int = 1,
    cv_folds: int = 5,
) -> dict[str, Any]:
    """Train a candidate on the store's current gold (`store.gold_rows`) and save it, NOT active.

    The candidate is registered in the store; `compare()` it with the active model, then
    `promote()` or `discard()` it. Returns its card (with `version` and `path`).
    """
    from .training import train

    root = _root(registry)
    rows = gold_rows(store)
    if len(rows) < MIN_TRAINING_ROWS:
        raise ModelError(
            f"only {len(rows)} labelled paragraphs in {store.path}; label or import at least "
            f"{MIN_TRAINING_ROWS} before retraining"
        )
    if cv_repeats > 0:
        groups = len(set(split_components([r.doc for r in rows], [r.group for r in rows])))
        if groups < cv_folds:
            raise ModelError(
                f"the {len(rows)} labelled paragraphs come from {groups} document group(s), too few for "
                f"{cv_folds}-fold grouped cross-validation; retrain with 0 CV repeats, or label paragraphs "
                f"of more documents"
            )
    _say(progress)(f"training on {len(rows)} labelled paragraphs (gold and undisputed answers)")
    result = train(rows, taxonomy=store.taxonomy, cv_repeats=cv_repeats, cv_folds=cv_folds, registry=root,
                   activate=False, progress=progress)
    if result.path is None:  # save=True always gives a path
        raise ModelError("training did not save a model version; retry")
    card = _card(root, result.path.name)
    register_model(store, card["version"], str(root / card["version"]), card)
    return {**card, "path": str(root / card["version"])}


def _f1(card: dict[str, Any] | None, label: str | None, key: str = "f1") -> float | None:
    cv = (card or {}).get("cv") or {}
    summary = cv.get("models", {}).get("model")
    if not summary:
        return None
    if label is None:
        return float(summary[key]["mean"])
    return float(summary["per_label"][label]["f1"]["mean"])


def compare(candidate: str, *, registry: Path | str | None = None) -> dict[str, Any]:
    """Per-label grouped-CV F1 of a candidate version next to the active model's.

    Each model's CV ran on its own training data (the card says how many paragraphs); a value
    is None when that model was trained without CV. Returns `{"candidate", "active", "sizes",
    "rows": [{"metric", "candidate", "active", "delta"}]}`.
    """
    root = _root(registry)
    cand = _card(root, candidate)
    current = active_version(registry=root)
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


def promote(
    store: Store,
    version: str,
    *,
    registry: Path | str | None = None,
    progress: Progress = None,
) -> dict[str, Any]:
    """Make `version` the active model (registry pointer, then the store), and score the pool
    with it so the active-learning queue follows. Returns `{"active", "previous", "scored"}`."""
    root = _root(registry)
    previous = active_version(registry=root)
    saved = load_version(version, registry=root)  # refuses tampered or incompatible versions first
    set_active(version, registry=root)
    sync_models(store, registry=root)
    scored = score_store(store, model=saved, progress=progress)
    return {"active": version, "previous": previous, "scored": scored}


def rollback(
    store: Store, version: str, *, registry: Path | str | None = None, progress: Progress = None
) -> dict[str, Any]:
    """Reactivate an earlier version (the same as `promote`, named for the history view)."""
    if version == active_version(registry=_root(registry)):
        raise ModelError(f"{version} is already the active model; pick another version to roll back to")
    return promote(store, version, registry=registry, progress=progress)


def discard(store: Store, version: str, *, registry: Path | str | None = None) -> dict[str, Any]:
    """Delete a version folder that is not active and drop its cached scores.

    The store keeps its row in the model table (answers may name it); `history()` shows it as
    discarded. Returns `{"discarded", "scores_dropped"}`.
    """
    root = _root(registry)
    if version == active_version(registry=root):
        raise ModelError(f"{version} is the active model; promote or roll back to another version first")
    folder = root / version
    # Only a plain version name of this registry is ever deleted: no paths, no hidden folders.
    if Path(version).name != version or version.startswith(".") or not (folder / "card.json").is_file():
        raise ModelError(f"{version!r} is not a model version of the registry {root}; nothing deleted "
                         f"(see the version history for the names)")
    shutil.rmtree(folder)
    with _MODELS_LOCK:
        _MODELS.pop((str(root), version), None)
    dropped = store_db.clear_scores(store, model_version=version)
    return {"discarded": version, "scores_dropped": dropped}


def history(store: Store, *, registry: Path | str | None = None) -> list[dict[str, Any]]:
    """Every model version the registry or the store knows, newest first.

    Each: `version`, `created`, `active`, `available` (folder still in the registry), `size`
    (training paragraphs), `macro_f1` (grouped CV, None without CV), `labels` (training counts).
    """
    root = _root(registry)
    cards = {c["version"]: c for c in list_models(registry=root)}
    for row in list_model_versions(store):
        cards.setdefault(row["version"], {**row["card"], "version": row["version"]})
    active = active_version(registry=root)
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


# --------------------------------------------------------------------------------------------
# Documents


def documents(store: Store, *, include_codebook: bool = False) -> list[dict[str, Any]]:
    """Stored documents in the order they were added: `doc`, `title`, `paragraphs`, `format`."""
    rows = store_db.list_documents(store)
    return [
        {"doc": doc, "title": title or first_title or "", "format": fmt, "added_at": added, "paragraphs": n}
        for doc, title, fmt, added, n, first_title in rows
        if include_codebook or not doc.startswith("codebook/")
    ]


def _check_upload(name: str, data: bytes, max_bytes: int) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise InputError(
            f"{name}: unsupported file type {suffix or '(none)'!r}; upload one of "
            f"{', '.join(UPLOAD_SUFFIXES)}"
        )
    if not data:
        raise InputError(f"{name}: the file is empty; upload a document with text in it")
    if len(data) > max_bytes:
        raise InputError(
            f"{name}: file is {_size(len(data))}, over the {_size(max_bytes)} upload limit; split it, "
            f"or convert it to JSONL paragraphs"
        )
    return suffix


def _size(n: int) -> str:
    return f"{n / 1_048_576:.1f} MB" if n >= 1_048_576 else f"{n / 1024:.1f} KB"


def _jsonl_paragraphs(data: bytes, name: str) -> tuple[list[Paragraph], list[str]]:
    paragraphs, skipped = [], []
    for entry in iter_jsonl(io.BytesIO(data), source=name):
        if isinstance(entry, RecordError):
            skipped.append(str(entry))
            continue
        line, record = entry
        p = paragraph_from_record(record, source=name, line=line)
        # The store keys paragraphs by the hash of their text, whatever id the file used.
        paragraphs.append(Paragraph(id=paragraph_id(p.text), doc=p.doc, index=p.index, text=p.text, lang=p.lang,
                                    title=str(record.get("title") or "")))
    return paragraphs, skipped


def upload(
    store: Store,
    name: str,
    data: bytes,
    *,
    max_bytes: int = DEFAULT_UPLOAD_BYTES,
    registry: Path | str | None = None,
    model: SavedModel | None = None,
) -> dict[str, Any]:
    """Read an uploaded file (txt, md, html, docx, pdf, or JSONL paragraphs), segment it, store
    it and classify its paragraphs with the active model (scores go to the queue's cache).

    Raises `InputError` for an unsupported, empty, oversized, binary or undecodable file, or one
    with no paragraphs. Returns `{"docs", "title", "paragraphs", "new", "existing", "scored",
    "skipped"}` (`skipped`: bad JSONL lines, each with file and line).
    """
    suffix = _check_upload(name, data, max_bytes)
    skipped: list[str] = []
    if suffix == ".jsonl":
        paragraphs, skipped = _jsonl_paragraphs(data, name)
        if not paragraphs:
            first = f" (first problem: {skipped[0]})" if skipped else ""
            raise InputError(f"{name}: no usable JSONL records{first}; each line needs a JSON object with 'text'")
        result = ingest_paragraphs(store, paragraphs)
        docs, title = list(dict.fromkeys(p.doc for p in paragraphs)), paragraphs[0].title
    else:
        document = read_document_bytes(data, name=name, max_bytes=max_bytes)
        paragraphs = segment(document)
        if not paragraphs:
            raise InputError(f"{name}: no paragraphs found (the file has no text); check that it is the right file")
        result = ingest_document(store, document)
        docs, title = [document.id], document.title or paragraphs[0].title
    saved = _resolve(model, registry)
    scored = len(_score_ids(store, saved, [p.id for p in paragraphs])) if saved else 0
    return {"docs": docs, "title": title, "paragraphs": result["paragraphs"], "new": result["new"],
            "existing": result["existing"], "scored": scored, "skipped": skipped}


def ingest_path(
    store: Store,
    path: str | Path,
    *,
    max_bytes: int = DEFAULT_UPLOAD_BYTES,
    registry: Path | str | None = None,
    model: SavedModel | None = None,
) -> dict[str, Any]:
    """`upload()` for a file on disk (the `pmc ingest` command)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory; pass the files inside it (e.g. {path}/*.txt)")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(f"{path}: file is {_size(size)}, over the {_size(max_bytes)} limit; split it")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror}); check the path") from None
    return upload(store, str(path), data, max_bytes=max_bytes, registry=registry, model=model)


def predictions(
    store: Store,
    doc_ids: Sequence[str],
    *,
    registry: Path | str | None = None,
    model: SavedModel | None = None,
) -> list[dict[str, Any]]:
    """The active model's records for every paragraph of the documents, in document order:
    `id`, `doc`, `index`, `lang`, `text`, `labels`, `scores`, `title` (as `pmc classify`)."""
    saved = _resolve(model, registry)
    if saved is None:
        raise ModelError("no active model; train one on the Model page (or `pmc train`) first")
    rows = _doc_rows(store, doc_ids)
    scores = _score_ids(store, saved, [row[2] for row in rows])
    thresholds = _thresholds(saved)
    labels = saved.card["labels"]
    records = []
    for doc, index, pid, text, lang, title, _ in rows:
        p = scores[pid]
        records.append({
            "id": pid, "doc": doc, "index": index, "lang": lang, "text": text,
            "labels": [label for label in labels if p[label] >= thresholds[label]],
            "scores": {label: round(float(p[label]), 4) for label in labels},
            "title": title,
        })
    return records


def profiles(
    store: Store,
    doc_ids: Sequence[str],
    *,
    registry: Path | str | None = None,
    model: SavedModel | None = None,
) -> dict[str, Any]:
    """Share of paragraphs per measure per document, with the paragraphs behind each bar.

    Returns `{"labels", "documents": {doc: {"title", "n", "shares": {label|"none": share},
    "paragraphs": {label|"none": [{"index", "text", "p"}]}}}}` (`p`: the label's probability).
    """
    records = predictions(store, doc_ids, registry=registry, model=model)
    saved = _resolve(model, registry)
    labels = tuple(saved.card["labels"]) if saved else store.taxonomy.label_ids
    shares = profile(records, labels)
    behind: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: {k: [] for k in (*labels, "none")})
    titles: dict[str, str] = {}
    for record in records:
        titles.setdefault(record["doc"], record["title"])
        for label in record["labels"] or ["none"]:
            p = record["scores"].get(label) if label != "none" else max(record["scores"].values(), default=0.0)
            behind[record["doc"]][label].append({"index": record["index"], "text": record["text"], "p": p})
    out = {}
    for doc in dict.fromkeys(doc_ids):
        if doc not in shares:
            continue
        n = shares[doc].pop("n")
        out[doc] = {"title": titles.get(doc, ""), "n": n, "shares": shares[doc], "paragraphs": behind[doc]}
    return {"labels": list(labels), "documents": out}


def download(
    store: Store,
    doc_ids: Sequence[str],
    fmt: str,
    *,
    registry: Path | str | None = None,
    model: SavedModel | None = None,
) -> str:
    """The documents' predictions as CSV or JSONL text (the `pmc classify` record format)."""
    if fmt not in DOWNLOAD_FORMATS:
        raise InputError(f"unknown download format {fmt!r}; use one of {', '.join(DOWNLOAD_FORMATS)}")
    records = predictions(store, doc_ids, registry=registry, model=model)
    saved = _resolve(model, registry)
    labels = tuple(saved.card["labels"]) if saved else store.taxonomy.label_ids
    return records_to_string(records, fmt, labels)


# --------------------------------------------------------------------------------------------
# The codebook


def codebook(store: Store, *, examples: int = 3) -> list[dict[str, Any]]:
    """The taxonomy in both languages, one entry per label plus `none`, each with up to
    `examples` gold paragraphs per language (paragraphs from real documents first, then the
    codebook's own examples)."""
    taxonomy = store.taxonomy
    rows = export_gold(store)
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


# --------------------------------------------------------------------------------------------
# Highlighting


def highlight_html(
    text: str,
    spans: Iterable[tuple[int, int, str, float]],
    *,
    labels: Sequence[str] = (),
) -> str:
    """Paragraph text as HTML: every character escaped, evidence spans wrapped in `<mark>`.

    Only escaped text goes inside the marks; overlapping or out-of-range spans are dropped.
    `labels` (codebook order) picks each label's colour from `LABEL_COLOURS`.
    """
    colours = {label: LABEL_COLOURS[i] if i < len(LABEL_COLOURS) else _FALLBACK_COLOUR for i, label in enumerate(labels)}
    parts: list[str] = []
    position = 0
    for start, end, label, weight in sorted(spans):
        if start < position or end <= start or end > len(text):
            continue
        colour = colours.get(label, _FALLBACK_COLOUR)
        parts.append(html.escape(text[position:start]))
        parts.append(
            f'<mark class="pmc-evidence" style="background:{colour}" '
            f'title="{html.escape(f"{label} {weight:+.2f}", quote=True)}">{html.escape(text[start:end])}</mark>'
        )
        position = end
    parts.append(html.escape(text[position:]))
    return "".join(parts)
