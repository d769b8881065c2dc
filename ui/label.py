"""The Label page: one paragraph at a time, five labels, keys for everything.

Widgets and session state only; picking, saving and going back are `classifier.annotate.session`.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from classifier.annotate import session
from classifier.annotate.highlight import highlight_html
from classifier.annotate.review import describe_answer
from classifier.errors import EmptyPoolError, PmcError
from classifier.scoring.decision import is_on
from ui import common as c

STRATEGY_NAMES = {
    "active": "Active learning (most uncertain first)",
    "random": "Random",
    "document": "Document order",
    "keyword": "Keyword search for one label",
}
SHORTCUTS = {"save": "Enter", "none": "0", "skip": "K", "flag": "F", "back": "B"}


def _set_annotator() -> None:
    name = st.session_state.get("annotator_input", "").strip()
    if name:
        st.session_state.annotator = name
        reset_item()


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
        "overlap": float(st.session_state.get("overlap", 0.0)),
        "include_gold": bool(st.session_state.get("include_gold", False) or st.session_state.get("gold_fallback")),
    }


def _checkbox_key(label: str) -> str:
    return f"lab_{st.session_state.get('nonce', 0)}_{label}"


def _show(item: session.LabelItem | None) -> None:
    old = st.session_state.get("nonce", 0)
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(f"lab_{old}_")]:
        del st.session_state[key]
    st.session_state.nonce = old + 1
    st.session_state.item = item
    if item is not None:
        for label in c.labels():
            st.session_state[_checkbox_key(label)] = label in item.prefill
        st.session_state.note = (item.previous_answer or {}).get("note", "")


def _fetch_next() -> None:
    options = _queue_options()
    c.model()  # the active model's score cache is filled before the queue reads it
    try:
        _show(session.next_item(c.workspace(), c.annotator(), **options))
        st.session_state.pool_empty = ""
    except EmptyPoolError as exc:
        if not options["include_gold"]:
            # Every paragraph without gold is done (a fresh store holds only the gold-labelled seeds):
            # go on with gold paragraphs, which measures agreement with gold, rather than stop.
            st.session_state.gold_fallback = True
            st.session_state.flash = "No paragraphs without gold are left: now offering gold-labelled ones (double annotation)."
            _fetch_next()
            return
        _show(None)
        st.session_state.pool_empty = str(exc)
    except PmcError as exc:  # e.g. another session claimed every candidate: say so, keep the page usable
        _show(None)
        st.session_state.pool_empty = ""
        st.session_state.flash_error = str(exc)


def _answer(kind: str) -> None:
    item: session.LabelItem | None = st.session_state.get("item")
    if item is None:
        return
    labels = [label for label in c.labels() if st.session_state.get(_checkbox_key(label))]
    try:
        session.save_answer(c.workspace(), item, annotator=c.annotator(), labels=labels, answer=kind,
                            note=st.session_state.get("note", ""))
    except PmcError as exc:
        st.session_state.flash_error = str(exc)
        return
    shown = {"accept": ", ".join(labels) or "none", "none": "none of these", "skip": "skipped", "flag": "flagged"}
    st.session_state.flash = f"Saved ({shown[kind]}) — paragraph {item.paragraph_id}"
    st.session_state.back_steps = 0
    _fetch_next()


def _back() -> None:
    steps = st.session_state.get("back_steps", 0) + 1
    try:
        item = session.go_back(c.workspace(), c.annotator(), steps=steps, blind=_queue_options()["blind"])
    except PmcError as exc:
        st.session_state.flash_error = str(exc)
        return
    if item is None:
        st.session_state.flash = "Nothing earlier to go back to."
        return
    st.session_state.back_steps = steps
    _show(item)


def _toggle(key: str) -> None:
    st.session_state[key] = not st.session_state.get(key, False)


def _sidebar() -> None:
    with st.sidebar:
        st.markdown(f"**Annotator:** {c.md(c.annotator())}")
        if st.button("Switch annotator", key="switch_annotator"):
            st.session_state.annotator = ""
            reset_item()
            st.rerun()
        st.selectbox("Queue order", list(STRATEGY_NAMES), format_func=STRATEGY_NAMES.get, key="strategy",
                     on_change=reset_item)
        if st.session_state.get("strategy") == "keyword":
            st.selectbox("Label whose codebook terms to look for", c.labels(), key="keyword_label",
                         on_change=reset_item)
        st.toggle("Blind mode", key="blind", on_change=reset_item,
                  help="Hide the model's suggestion and the other annotators' answers (for unbiased agreement).")
        st.slider("Overlap", 0.0, 1.0, step=0.05, key="overlap", on_change=reset_item,
                  help="Share of paragraphs that two annotators label independently (for agreement). "
                       "0 = every paragraph goes to one annotator.")
        st.toggle("Include gold-labelled paragraphs", key="include_gold", on_change=reset_item,
                  help="Also offer paragraphs that already have a gold label (double annotation, to measure "
                       "agreement with gold). Gold paragraphs are offered anyway once nothing else is left.")
        summary = c.progress(c.annotator())
        st.divider()
        st.markdown("**Progress**")
        st.progress(summary["share"], text=f"{summary['labelled']} of {summary['paragraphs']} paragraphs labelled")
        st.caption(f"You answered {c.plural(summary.get('mine', 0), 'paragraph')}.")
        st.html("<br>".join(
            f"{c.chip(label) if label != 'none' else '<span class=pmc-chip>none</span>'} {count}"
            for label, count in summary["labels"].items()))


def _item_view(item: session.LabelItem) -> None:
    info = c.label_info()
    labels = c.labels()
    st.html(f'<h4 class="pmc-title">{c.esc(item.title or item.doc or "untitled document")}</h4>')
    where = " · ".join(x for x in (item.position, c.md(item.section) if item.section else "",
                                   f"`{item.paragraph_id}`") if x)
    mode = "reopened to change your answer" if item.previous_answer else c.md(item.reason)
    st.caption(f"{where} — {mode}")
    st.html(f'<div class="pmc-card" lang="{c.esc(item.lang)}">{highlight_html(item.text, item.spans, labels=labels)}</div>')
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
    if item.others:
        st.info("Other annotators: " + "; ".join(
            f"{c.md(o['annotator'])}: {describe_answer(o['answer'], o['labels'])}" for o in item.others))

    st.markdown("**Which measures does this paragraph describe?**")
    for number, label in enumerate(labels, start=1):
        entry = info[label]
        c_box, c_bar, c_help = st.columns([6, 3, 1], vertical_alignment="center")
        name = f":{c.MD_COLOURS[number - 1]}-background[{entry['name_en']} · {entry['name_zh']}]" \
            if number <= len(c.MD_COLOURS) else f"{entry['name_en']} · {entry['name_zh']}"
        c_box.checkbox(f"**{number}** · {name}", key=_checkbox_key(label), help=entry["definition_en"])
        p = item.scores.get(label)
        if p is not None:
            t = item.thresholds.get(label, 0.5)
            on = is_on(p, t)
            c_bar.html(
                f'<div class="pmc-bar" title="model probability {p:.0%}, threshold {t:.0%}">'
                f'<span style="width:{p * 100:.1f}%;background:{"#6366f1" if on else "#a5b4fc"}"></span>'
                f'<i style="left:{t * 100:.1f}%"></i></div><div class="pmc-p">model {p:.0%}</div>'
            )
        with c_help.popover("?", help=f"Codebook: {entry['name_en']}"):
            c.definition(entry)
    with st.container(key="kbd_toggles"):
        for number, label in enumerate(labels, start=1):
            st.button(f"Toggle {label}", key=f"kbd_{number}", shortcut=str(number), on_click=_toggle,
                      args=(_checkbox_key(label),))

    st.text_input("Note (optional; shown to the reviewer)", key="note")
    cols = st.columns([2, 2, 1.3, 2, 1.3])
    cols[0].button("Save & next", type="primary", key="save", shortcut=SHORTCUTS["save"], on_click=_answer,
                   args=("accept",), width="stretch")
    cols[1].button("None of these", key="none", shortcut=SHORTCUTS["none"], on_click=_answer, args=("none",),
                   width="stretch")
    cols[2].button("Skip", key="skip", shortcut=SHORTCUTS["skip"], on_click=_answer, args=("skip",), width="stretch")
    cols[3].button("Flag for review", key="flag", shortcut=SHORTCUTS["flag"], on_click=_answer, args=("flag",),
                   width="stretch")
    cols[4].button("Back", key="back", shortcut=SHORTCUTS["back"], on_click=_back, icon=":material/undo:",
                   width="stretch")
    st.caption("Keys: **1–5** tick or untick a label · **Enter** save & next · **0** none of these · "
               "**K** skip · **F** flag · **B** back (keys are ignored while typing in the note)")
    if item.evidence and any(item.evidence.values()):
        with st.expander("Why the model suggests this"):
            for label in labels:
                terms = item.evidence.get(label, ())
                if terms and item.scores.get(label, 0) >= 0.5 * item.thresholds.get(label, 0.5):
                    shown = ", ".join(f"{feature} (+{weight:.2f})" for feature, weight in terms)
                    st.html(f"{c.chip(label)} <span class='pmc-muted'>{c.esc(shown)}</span>")


def page() -> None:
    if not c.annotator():
        st.title("Label paragraphs")
        with st.form("who"):
            st.text_input("Your name", key="annotator_input", placeholder="e.g. wang.li",
                          help="Asked once per session; every answer records who gave it.")
            st.form_submit_button("Start labelling", type="primary", on_click=_set_annotator)
        return
    _sidebar()
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
        return
    _item_view(item)


page()
