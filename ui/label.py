"""The Label page: one paragraph at a time, five labels, keys for everything.

The answer form (toggles, note, keys) runs in the browser (`ui.label_form`) and sends one
submission per answer; this page holds who is labelling (in the URL, so a reload keeps it),
the queue options and the item handed out. Picking, saving, refusing stale submissions and
going back are `classifier.annotate.session`.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from classifier.annotate import session
from classifier.annotate.review import describe_answer
from classifier.errors import EmptyPoolError, PmcError, StaleAnswerError
from classifier.store import current_claim
from ui import common as c
from ui import label_form

STRATEGY_NAMES = {
    "active": "Active learning (most uncertain first)",
    "random": "Random",
    "document": "Document order",
    "keyword": "Keyword search for one label",
}
DEFAULT_OVERLAP = 0.2  # a fifth of the paragraphs get two independent answers (agreement)
SHOWN = {"accept": "labels", "none": "none of these", "skip": "skipped", "flag": "flagged"}


def reset_item() -> None:
    st.session_state.item = None
    st.session_state.back_steps = 0
    st.session_state.pool_empty = ""


def _queue_options() -> dict[str, Any]:
    strategy = st.session_state.get("strategy", "active")
    return {
        "strategy": strategy,
        "label": st.session_state.get("keyword_label") if strategy == "keyword" else None,
        "blind": bool(st.session_state.get("blind", False)),
        "overlap": float(st.session_state.get("overlap", DEFAULT_OVERLAP)),
        "include_gold": bool(st.session_state.get("include_gold", False) or st.session_state.get("gold_fallback")),
        "include_codebook": bool(st.session_state.get("include_codebook", False)),
    }


def _show(item: session.LabelItem | None, message: dict[str, str] | None = None) -> None:
    st.session_state.item = item
    st.session_state.form_message = message
    st.session_state.stale_tab = False


def _fetch_next(message: dict[str, str] | None = None) -> None:
    options = _queue_options()
    c.model()  # the active model's score cache is filled before the queue reads it
    try:
        _show(session.next_item(c.workspace(), c.annotator(), **options), message)
        st.session_state.pool_empty = ""
    except EmptyPoolError as exc:
        if not options["include_gold"]:
            # Nothing without gold is left: go on with gold-labelled real paragraphs (double
            # annotation measures agreement with gold) rather than stop.
            st.session_state.gold_fallback = True
            st.session_state.flash = "No paragraphs without gold are left: now offering gold-labelled ones (double annotation)."
            _fetch_next(message)
            return
        _show(None)
        st.session_state.pool_empty = str(exc)
    except PmcError as exc:  # e.g. another session claimed every candidate: say so, keep the page usable
        _show(None)
        st.session_state.pool_empty = ""
        st.session_state.flash_error = str(exc)


def _on_submit() -> None:
    """The form's one submission: saved only if it names the paragraph this page was given."""
    event = label_form.last_event("submit")
    if event is None:
        return
    st.session_state.ack = int(event.get("seq") or 0)
    item: session.LabelItem | None = st.session_state.get("item")
    try:
        session.submit(c.workspace(), item, event, annotator=c.annotator())
    except StaleAnswerError as exc:
        st.session_state.form_message = {"kind": "error", "text": str(exc)}
        st.session_state.stale_tab = item is not None and not _still_current(item)
        return
    except PmcError as exc:
        st.session_state.form_message = {"kind": "error", "text": str(exc)}
        return
    labels = event.get("labels") or []
    kind = str(event.get("answer"))
    shown = (", ".join(labels) or "none") if kind == "accept" else SHOWN.get(kind, kind)
    st.session_state.back_steps = 0
    _fetch_next({"kind": "ok", "text": f"Saved ({shown}) — paragraph {event.get('paragraph_id')}"})


def _on_back() -> None:
    event = label_form.last_event("back")
    if event is None:
        return
    st.session_state.ack = int(event.get("seq") or 0)
    _back()


def _still_current(item: session.LabelItem) -> bool:
    claim = current_claim(c.workspace().store, c.annotator())
    return claim is not None and claim.token == item.token


def _back() -> None:
    steps = st.session_state.get("back_steps", 0) + 1
    try:
        item = session.go_back(c.workspace(), c.annotator(), steps=steps, blind=_queue_options()["blind"])
    except PmcError as exc:
        st.session_state.form_message = {"kind": "error", "text": str(exc)}
        return
    if item is None:
        st.session_state.form_message = {"kind": "warn", "text": "Nothing earlier to go back to."}
        return
    st.session_state.back_steps = steps
    _show(item, {"kind": "ok", "text": "Reopened your earlier answer: saving adds a new answer, the old one stays."})


def _sidebar() -> None:
    with st.sidebar:
        st.selectbox("Queue order", list(STRATEGY_NAMES), format_func=STRATEGY_NAMES.get, key="strategy",
                     on_change=reset_item)
        if st.session_state.get("strategy") == "keyword":
            st.selectbox("Label whose codebook terms to look for", c.labels(), key="keyword_label",
                         on_change=reset_item)
        st.toggle("Blind mode", key="blind", on_change=reset_item,
                  help="Hide the model's suggestion and the other annotators' answers (for unbiased agreement).")
        st.session_state.setdefault("overlap", DEFAULT_OVERLAP)
        st.slider("Overlap", 0.0, 1.0, step=0.05, key="overlap", on_change=reset_item,
                  help="Share of paragraphs that two annotators label independently (for agreement). "
                       "0 = every paragraph goes to one annotator.")
        st.toggle("Include gold-labelled paragraphs", key="include_gold", on_change=reset_item,
                  help="Also offer paragraphs that already have a gold label (double annotation, to measure "
                       "agreement with gold). Gold paragraphs are offered anyway once nothing else is left.")
        user = st.session_state.get("user")
        if user is not None and user.can("admin"):
            with st.expander("Admin"):
                st.toggle("Offer codebook examples", key="include_codebook", on_change=reset_item,
                          help="Codebook examples are training material written for the codebook, not real text; "
                               "they are not offered for labelling unless you ask for them here.")
        summary = c.progress(c.annotator())
        st.divider()
        st.markdown("**Progress**")
        st.progress(summary["share"], text=f"{summary['labelled']} of {summary['paragraphs']} real paragraphs labelled")
        st.caption(f"You answered {c.plural(summary.get('mine', 0), 'paragraph')}.")
        st.html("<br>".join(
            f"{c.chip(label) if label != 'none' else '<span class=pmc-chip>none</span>'} {count}"
            for label, count in summary["labels"].items()))


def _item_view(item: session.LabelItem) -> None:
    labels = c.labels()
    st.html(f'<h4 class="pmc-title">{c.esc(item.title or item.doc or "untitled document")}</h4>')
    where = " · ".join(x for x in (item.position, c.md(item.section) if item.section else "",
                                   f"`{item.paragraph_id}`") if x)
    mode = "reopened to change your answer" if item.previous_answer else c.md(item.reason)
    st.caption(f"{where} — {mode}")
    if st.session_state.get("stale_tab"):
        st.warning("This tab is out of date: your current paragraph was opened in another tab or window. "
                   "Nothing was saved from here.")
        st.button("Continue in this tab", on_click=_fetch_next, key="continue_here", type="primary")
    if item.others:
        st.info("Other annotators: " + "; ".join(
            f"{c.md(o['annotator'])}: {describe_answer(o['answer'], o['labels'])}" for o in item.others))
    label_form.label_form(
        label_form.form_data(item, labels=labels, info=c.label_info(), ack=st.session_state.get("ack", 0),
                             message=st.session_state.get("form_message")),
        on_submit=_on_submit, on_back=_on_back,
    )
    if item.spans:
        legend = " ".join(c.chip(label) for label in labels if any(s[2] == label for s in item.spans))
        st.html(f'<div class="pmc-muted">Highlighted: model evidence for {legend}</div>')
    if item.before or item.after:
        with st.expander("Context: neighbouring paragraphs"):
            for text in item.before:
                c.muted("↑ " + text)
            st.markdown("**▶ this paragraph**")
            for text in item.after:
                c.muted("↓ " + text)
    if item.evidence and any(item.evidence.values()):
        with st.expander("Why the model suggests this"):
            for label in labels:
                terms = item.evidence.get(label, ())
                if terms and item.scores.get(label, 0) >= 0.5 * item.thresholds.get(label, 0.5):
                    shown = ", ".join(f"{feature} (+{weight:.2f})" for feature, weight in terms)
                    st.html(f"{c.chip(label)} <span class='pmc-muted'>{c.esc(shown)}</span>")


def page() -> None:
    if st.session_state.get("item") is None and not st.session_state.get("pool_empty"):
        _fetch_next()
    c.flash(success=st.toast)
    item: session.LabelItem | None = st.session_state.get("item")
    if item is None:
        st.title("Label paragraphs")
        if st.session_state.get("pool_empty"):
            st.success(f"All done for now. {c.md(st.session_state.pool_empty)}")
        a, b = st.columns([1, 5])
        a.button("Check again", on_click=_fetch_next, key="check_again")
        b.button("← Back to my last answer", on_click=_back, key="back_empty")
    else:
        _item_view(item)
    _sidebar()  # after the paragraph, so the next paragraph reaches the browser first


page()
