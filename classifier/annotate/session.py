"""The label session: what an annotator does on the Label page, as plain functions.

`next_item()` hands an annotator their next paragraph (claimed for them by `queue`), with its
neighbours and position and, unless blind, the active model's suggestion: probabilities,
thresholds, pre-ticked labels and evidence spans, all from ONE explanation of the paragraph
(`scoring.explain`: the text is folded and featurised once). `save_answer()` appends the answer
with the suggestion that was shown; `submit()` takes the page's one
submission (labels, answer kind, note and the token of the rendering shown) and refuses one
that is not the annotator's current item; `go_back()` reopens an earlier answer so a new row can
replace it; `queue_preview()` and `progress_summary()` feed the sidebar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import store as db
from ..errors import AccessError, LabelDataError, StaleAnswerError
from ..scoring.explain import explain_text, highlight_spans
from ..scoring.registry import SavedModel
from ..store import Answer, Pool
from ..store.users import authorize
from ..text.paragraph import Paragraph
from ..workspace import Workspace
from .queue import next_paragraph

__all__ = [
    "ANSWER_KINDS",
    "MIN_SPAN_WEIGHT",
    "LabelItem",
    "answer_dict",
    "next_item",
    "go_back",
    "save_answer",
    "submit",
    "queue_preview",
    "progress_summary",
]

ANSWER_KINDS = ("accept", "none", "skip", "flag")  # "none" is an accept with no label
MIN_SPAN_WEIGHT = 0.1  # evidence weaker than this is not highlighted (noise, e.g. "加强" +0.02)


@dataclass(frozen=True)
class LabelItem:
    """One paragraph as the Label page shows it, with the model suggestion and its context.

    `scores`/`thresholds` are empty and `model_version` None when no suggestion was shown
    (blind mode, or no model). `spans` are `(start, end, label, weight)` evidence spans in
    `text` for `highlight.highlight_html()`; `evidence` is `{label: ((feature, weight), ...)}`.
    `previous_answer` is set when the item reopens an earlier answer (Back). `token`
    identifies this rendering: `submit()` saves an answer only with the token of the
    annotator's current claim.
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
    token: str = ""

    @property
    def prefill(self) -> tuple[str, ...]:
        """The labels to tick first: the earlier answer when going back, else the suggestion."""
        if self.previous_answer is not None:
            return tuple(self.previous_answer["labels"])
        return self.suggested

    @property
    def position(self) -> str:
        return f"paragraph {self.index + 1} of {self.doc_length}" if self.doc_length else ""


def answer_dict(answer: Answer) -> dict[str, Any]:
    """An answer as plain data for the pages."""
    return {
        "annotator": answer.annotator, "answer": answer.answer, "labels": list(answer.labels),
        "note": answer.note, "model_version": answer.model_version, "created_at": answer.created_at,
    }


def _context(ws: Workspace, paragraph: Paragraph, context: int) -> tuple[int, tuple[str, ...], tuple[str, ...], str]:
    if not paragraph.doc:
        return 0, (), (), ""
    rows, length, title = db.document_window(ws.store, paragraph.doc, paragraph.index - context,
                                             paragraph.index + context)
    before = tuple(text for pos, text in rows if pos < paragraph.index)
    after = tuple(text for pos, text in rows if pos > paragraph.index)
    return int(length), before, after, title or ""


def _suggestion(saved: SavedModel, text: str, *, top: int) -> dict[str, Any]:
    """Probabilities, thresholds, pre-ticks, evidence and spans from one explanation."""
    explanations = explain_text(saved.model, text, top=top)
    in_play = [e for e in explanations if e.probability >= 0.5 * e.threshold]
    return {
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


def may_see_others(ws: Workspace, annotator: str) -> bool:
    """Whether the annotator may see other annotators' answers (a reviewer's right on a team store)."""
    try:
        authorize(ws.store, annotator, "review")
    except AccessError:
        return False
    return True


def _build_item(
    ws: Workspace,
    paragraph: Paragraph,
    *,
    strategy: str,
    reason: str,
    blind: bool,
    annotator: str,
    context: int,
    previous_answer: dict[str, Any] | None = None,
    claim_expires_at: str | None = None,
    token: str = "",
    explain_top: int = 8,
) -> LabelItem:
    length, before, after, doc_title = _context(ws, paragraph, context)
    title, doc = paragraph.title or doc_title, paragraph.doc
    suggestion: dict[str, Any] = {}
    others: tuple[dict[str, Any], ...] = ()
    if blind:
        # Nothing that can leak a label: no suggestion, no other answers, and a codebook
        # example's document name (codebook/<label>/...) is not shown.
        gold = db.latest_gold(ws.store, [paragraph.id]).get(paragraph.id)
        if gold is not None and gold.source == "codebook":
            title, doc = "Codebook example", ""
    else:
        saved = ws.model
        if saved is not None:
            suggestion = _suggestion(saved, paragraph.text, top=explain_top)
        if may_see_others(ws, annotator):  # others' answers are a reviewer's to see (store.users)
            latest = db.latest_answers(ws.store, [paragraph.id]).get(paragraph.id, {})
            others = tuple(answer_dict(a) for name, a in sorted(latest.items()) if name != annotator)
    return LabelItem(
        paragraph_id=paragraph.id, text=paragraph.text, lang=paragraph.lang, doc=doc,
        title=title, section=paragraph.section, index=paragraph.index,
        doc_length=length, before=before, after=after, strategy=strategy, reason=reason,
        others=others, previous_answer=previous_answer, claim_expires_at=claim_expires_at, token=token,
        **suggestion,
    )


def next_item(
    ws: Workspace,
    annotator: str,
    *,
    strategy: str = "active",
    label: str | None = None,
    overlap: float = 0.0,
    blind: bool = False,
    include_gold: bool = False,
    include_codebook: bool = False,
    seed: int | None = None,
    context: int = 1,
) -> LabelItem:
    """The annotator's next paragraph (claimed for them), with the active model's suggestion.

    `strategy` is one of `queue.STRATEGIES` (`keyword` needs `label`); `overlap` is the share
    of paragraphs given to two annotators for agreement; `blind` hides the model suggestion
    and the other annotators' answers (and a codebook example's name). Codebook examples are
    offered only with `include_codebook` (an admin's choice: they are training material, not
    real text). Raises `EmptyPoolError` when nothing is left.
    """
    saved = ws.model
    item = next_paragraph(
        ws.store, annotator=annotator, strategy=strategy, label=label, overlap=overlap,
        include_gold=include_gold, include_codebook=include_codebook,
        model_version=saved.version if saved else None,
        thresholds=saved.thresholds() if saved else None, seed=seed,
    )
    return _build_item(
        ws, db.get_paragraph(ws.store, item.paragraph_id), strategy=item.strategy, reason=item.reason,
        blind=blind, annotator=annotator, context=context, claim_expires_at=item.claim_expires_at,
        token=item.token,
    )


def go_back(ws: Workspace, annotator: str, *, steps: int = 1, blind: bool = False,
            context: int = 1) -> LabelItem | None:
    """Reopen the annotator's `steps`-th most recent answer (1 = the last one) to change it.

    Saving the item appends a new answer; the old row stays (the store is append-only).
    None when the annotator has fewer answers than `steps`.
    """
    trail = db.answers_by(ws.store, annotator, limit=steps)
    if len(trail) < steps:
        return None
    answer = trail[steps - 1]
    claim = db.claim_for_revision(ws.store, annotator, answer.paragraph_id)
    return _build_item(
        ws, db.get_paragraph(ws.store, answer.paragraph_id),
        strategy="back", reason=f"your answer of {answer.created_at[:19].replace('T', ' ')} UTC",
        blind=blind, annotator=annotator, context=context, previous_answer=answer_dict(answer),
        claim_expires_at=claim.expires_at, token=claim.token,
    )


def save_answer(
    ws: Workspace,
    item: LabelItem,
    *,
    annotator: str,
    labels: Sequence[str] = (),
    answer: str = "accept",
    note: str = "",
) -> int:
    """Append the annotator's answer on `item`, with the model version and scores it showed.

    `answer` is `accept` (the `labels`), `none` (accept with no label), `skip` or `flag`
    (labels kept for the reviewer, not counted). An item with a `token` (every item the queue
    or Back hands out) is saved only while it is the annotator's current claim, else
    `StaleAnswerError` and nothing is written. Returns the new row id.
    """
    if answer not in ANSWER_KINDS:
        raise LabelDataError(f"answer is {answer!r}; expected one of {', '.join(ANSWER_KINDS)}")
    kind, chosen = ("accept", ()) if answer == "none" else (answer, tuple(labels))
    return db.record_answer(
        ws.store, item.paragraph_id, annotator=annotator, answer=kind, labels=list(chosen),
        model_version=item.model_version, scores=item.scores or None, note=note, token=item.token or None,
    )


def submit(ws: Workspace, item: LabelItem | None, submission: Mapping[str, Any], *, annotator: str) -> int:
    """Save one submission from the Label page: `{paragraph_id, token, answer, labels, note}`.

    The page sends the whole answer at once (labels and note live in the browser until then).
    It must name the item the server handed out: the same paragraph and token, else
    `StaleAnswerError` (a repeated Enter, an old tab) and nothing is saved.
    """
    pid, token = str(submission.get("paragraph_id", "")), str(submission.get("token", ""))
    if item is None or pid != item.paragraph_id or token != item.token:
        shown = item.paragraph_id if item is not None else "no paragraph"
        raise StaleAnswerError(
            f"answer on paragraph {pid or '?'} not saved: this page now shows {shown} "
            f"(a key pressed while the next paragraph loaded, or an old tab); nothing was saved"
        )
    labels = submission.get("labels") or []
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise LabelDataError(f"labels of the answer on paragraph {pid} must be a list of label ids; got {labels!r}")
    return save_answer(ws, item, annotator=annotator, labels=labels, answer=str(submission.get("answer", "")),
                       note=str(submission.get("note") or ""))


def queue_preview(ws: Workspace, annotator: str, *, n: int = 20, overlap: float = 0.0) -> list[dict[str, Any]]:
    """The `n` most uncertain pool paragraphs for the annotator (the active-learning queue now)."""
    saved = ws.model
    if saved is None:
        return []
    rows = db.pool_ids(ws.store, Pool(annotator, overlap=overlap), order="uncertainty",
                       model_version=saved.version, limit=n)
    texts = db.get_paragraphs(ws.store, [pid for pid, _ in rows])
    return [{"paragraph_id": pid, "uncertainty": u, "text": texts[pid].text} for pid, u in rows if pid in texts]


def progress_summary(ws: Workspace, annotator: str | None = None) -> dict[str, Any]:
    """`store.progress()` plus the annotator's own answer count (`mine`)."""
    summary = db.progress(ws.store)
    if annotator:
        summary["mine"] = summary["annotators"].get(annotator, {}).get("paragraphs", 0)
    return summary
