"""pmc — the labelling and review app (Streamlit).

Thin on purpose: widgets, session state and calls into `classifier.workspace`, which holds
every action as a plain, tested function. Pages: Label, Review, Model, Documents, Codebook.

Run with `pmc app` (seeds, trains and starts), or directly:
    streamlit run app.py -- --db data/pmc.sqlite
The store is `--db`, else `PMC_DB`, else `data/pmc.sqlite`; the model registry is
`PMC_MODELS_DIR`, else `data/models`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from classifier import workspace as ws
from classifier.errors import EmptyPoolError, PmcError
from classifier.paths import default_db_path, models_dir
from classifier.registry import SavedModel, active_version
from classifier.store import Store, open_store

PAGES = ("Label", "Review", "Model", "Documents", "Codebook")
PAGE_ICONS = {"Label": "🏷️", "Review": "⚖️", "Model": "🧠", "Documents": "📄", "Codebook": "📖"}
STRATEGY_NAMES = {
    "active": "Active learning (most uncertain first)",
    "random": "Random",
    "document": "Document order",
    "keyword": "Keyword search for one label",
}
# Streamlit's markdown background colours closest to ws.LABEL_COLOURS, in codebook order.
MD_COLOURS = ("red", "blue", "green", "orange", "violet")
SHORTCUTS = {"save": "Enter", "none": "0", "skip": "K", "flag": "F", "back": "B"}
CSS = """
<style>
.pmc-card {font-size: 1.12rem; line-height: 1.75; padding: 0.9rem 1.1rem; border-left: 4px solid #6366f1;
  background: #f8fafc; border-radius: 6px; white-space: pre-wrap; color: #0f172a;}
.pmc-muted {color: #64748b; font-size: 0.92rem; line-height: 1.6; white-space: pre-wrap;}
.pmc-evidence {padding: 0 2px; border-radius: 3px;}
.pmc-bar {height: 8px; background: #e2e8f0; border-radius: 4px; position: relative; margin-top: 0.85rem;}
.pmc-bar > span {position: absolute; left: 0; top: 0; bottom: 0; border-radius: 4px;}
.pmc-bar > i {position: absolute; top: -3px; bottom: -3px; width: 2px; background: #0f172a;}
.pmc-p {font-size: 0.8rem; color: #475569; margin-top: 0.1rem;}
.pmc-chip {display: inline-block; padding: 0 0.45rem; border-radius: 0.6rem; font-size: 0.85rem; margin-right: 0.25rem;}
[data-testid="stMainBlockContainer"] {padding-top: 2.5rem;}
.st-key-kbd_toggles {position: absolute; left: -10000px; height: 1px; overflow: hidden;}
</style>
"""
# Streamlit ignores shortcut keys while an <input> has focus, and clicking a checkbox focuses it;
# give focus back to the page after each tick so 1-5 and Enter keep working with the mouse too.
# A constant script: no paragraph text or other data is ever interpolated into it.
KEYBOARD_JS = """
<script>
if (!window.__pmcBlurInstalled) {
  window.__pmcBlurInstalled = true;
  document.addEventListener("click", function (event) {
    if (!event.target.closest) return;
    if (event.target.closest('[data-testid="stCheckbox"], [data-testid="stRadio"]')) {
      setTimeout(function () {
        var active = document.activeElement;
        if (active && active.tagName === "INPUT" && (active.type === "checkbox" || active.type === "radio")) {
          active.blur();
        }
      }, 60);
    }
  }, true);
}
</script>
"""


# --------------------------------------------------------------------------------------------
# Resources (cached per process) and results (cached per data version)


def _db_path() -> str:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db", default=None)
    args, _ = parser.parse_known_args(sys.argv[1:])
    return str(Path(args.db or default_db_path()).resolve())


@st.cache_resource(show_spinner="First start: seeding the store and training a model (a few minutes)…")
def prepared(db: str, registry: str) -> dict[str, Any]:
    return ws.bootstrap(db, registry=registry)


@st.cache_resource(show_spinner=False)
def get_store(db: str) -> Store:
    return open_store(db)


@st.cache_resource(show_spinner="Loading the model…")
def get_model(registry: str, version: str) -> SavedModel:
    return ws.load_version(version, registry=registry)


@st.cache_resource(show_spinner="Scoring the paragraphs with the active model…")
def scored_for(db: str, registry: str, version: str) -> int:
    """Once per model version: sync the store's model table and fill the score cache."""
    store = get_store(db)
    ws.sync_models(store, registry=registry)
    return ws.score_store(store, model=get_model(registry, version))


def current_model() -> SavedModel | None:
    version = active_version(registry=Path(REGISTRY))
    if version is None:
        return None
    scored_for(DB, REGISTRY, version)
    return get_model(REGISTRY, version)


@st.cache_data(show_spinner=False, max_entries=8)
def cached_progress(db: str, token: tuple, annotator: str) -> dict[str, Any]:
    return ws.progress_summary(get_store(db), annotator or None)


@st.cache_data(show_spinner=False, max_entries=4)
def cached_codebook(db: str, token: tuple) -> list[dict[str, Any]]:
    return ws.codebook(get_store(db))


@st.cache_data(show_spinner=False, max_entries=4)
def cached_agreement(db: str, token: tuple) -> dict[str, Any]:
    return ws.agreement(get_store(db))


@st.cache_data(show_spinner=False, max_entries=16)
def cached_profiles(db: str, token: tuple, docs: tuple[str, ...]) -> dict[str, Any]:
    return ws.profiles(get_store(db), list(docs), model=current_model())


@st.cache_data(show_spinner=False, max_entries=16)
def cached_download(db: str, token: tuple, docs: tuple[str, ...], fmt: str) -> str:
    return ws.download(get_store(db), list(docs), fmt, model=current_model())


def token() -> tuple:
    return ws.data_version(get_store(DB))


def label_info() -> dict[str, dict[str, Any]]:
    return {entry["id"]: entry for entry in cached_codebook(DB, (get_store(DB).taxonomy.hash,))}


def colour(label: str) -> str:
    labels = get_store(DB).taxonomy.label_ids
    return ws.LABEL_COLOURS[labels.index(label)] if label in labels else "#e5e7eb"


def chip(label: str) -> str:
    return f'<span class="pmc-chip" style="background:{colour(label)}">{label}</span>'


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def muted(text: str) -> None:
    import html

    st.html(f'<div class="pmc-muted">{html.escape(text)}</div>')


# --------------------------------------------------------------------------------------------
# Label


def _annotator() -> str:
    return st.session_state.get("annotator", "")


def _set_annotator() -> None:
    name = st.session_state.get("annotator_input", "").strip()
    if name:
        st.session_state.annotator = name
        _reset_item()


def _reset_item() -> None:
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


def _show(item: ws.LabelItem | None) -> None:
    old = st.session_state.get("nonce", 0)
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(f"lab_{old}_")]:
        del st.session_state[key]
    st.session_state.nonce = old + 1
    st.session_state.item = item
    if item is not None:
        for label in get_store(DB).taxonomy.label_ids:
            st.session_state[_checkbox_key(label)] = label in item.prefill
        st.session_state.note = (item.previous_answer or {}).get("note", "")


def _fetch_next() -> None:
    options = _queue_options()
    try:
        _show(ws.next_item(get_store(DB), _annotator(), model=current_model(), **options))
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
    item: ws.LabelItem | None = st.session_state.get("item")
    if item is None:
        return
    labels = [label for label in get_store(DB).taxonomy.label_ids if st.session_state.get(_checkbox_key(label))]
    try:
        ws.save_answer(get_store(DB), item, annotator=_annotator(), labels=labels, answer=kind,
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
        item = ws.go_back(get_store(DB), _annotator(), steps=steps, blind=_queue_options()["blind"],
                          model=current_model())
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


def _label_sidebar(store: Store) -> None:
    with st.sidebar:
        st.markdown(f"**Annotator:** {_annotator()}")
        if st.button("Switch annotator", key="switch_annotator"):
            st.session_state.annotator = ""
            _reset_item()
            st.rerun()
        st.selectbox("Queue order", list(STRATEGY_NAMES), format_func=STRATEGY_NAMES.get, key="strategy",
                     on_change=_reset_item)
        if st.session_state.get("strategy") == "keyword":
            st.selectbox("Label whose codebook terms to look for", store.taxonomy.label_ids, key="keyword_label",
                         on_change=_reset_item)
        st.toggle("Blind mode", key="blind", on_change=_reset_item,
                  help="Hide the model's suggestion and the other annotators' answers (for unbiased agreement).")
        st.slider("Overlap", 0.0, 1.0, step=0.05, key="overlap", on_change=_reset_item,
                  help="Share of paragraphs that two annotators label independently (for agreement). "
                       "0 = every paragraph goes to one annotator.")
        st.toggle("Include gold-labelled paragraphs", key="include_gold", on_change=_reset_item,
                  help="Also offer paragraphs that already have a gold label (double annotation, to measure "
                       "agreement with gold). Gold paragraphs are offered anyway once nothing else is left.")
        summary = cached_progress(DB, token(), _annotator())
        st.divider()
        st.markdown("**Progress**")
        st.progress(summary["share"], text=f"{summary['labelled']} of {summary['paragraphs']} paragraphs labelled")
        st.caption(f"You answered {plural(summary.get('mine', 0), 'paragraph')}.")
        st.html("<br>".join(
            f"{chip(label) if label != 'none' else '<span class=pmc-chip>none</span>'} {count}"
            for label, count in summary["labels"].items()))


def page_label() -> None:
    store = get_store(DB)
    if not _annotator():
        st.title("Label paragraphs")
        with st.form("who"):
            st.text_input("Your name", key="annotator_input", placeholder="e.g. wang.li",
                          help="Asked once per session; every answer records who gave it.")
            st.form_submit_button("Start labelling", type="primary", on_click=_set_annotator)
        return
    _label_sidebar(store)
    if st.session_state.get("item") is None and not st.session_state.get("pool_empty"):
        _fetch_next()
    for kind, show in (("flash_error", st.error), ("flash", st.toast)):
        if st.session_state.get(kind):
            show(st.session_state.pop(kind))
    item: ws.LabelItem | None = st.session_state.get("item")
    if item is None:
        st.title("Label paragraphs")
        if st.session_state.get("pool_empty"):
            st.success(f"All done for now. {st.session_state.pool_empty}")
        c1, c2 = st.columns([1, 5])
        c1.button("Check again", on_click=_fetch_next, key="check_again")
        c2.button("← Back to my last answer", on_click=_back, key="back_empty")
        return
    _label_item(store, item)


def _label_item(store: Store, item: ws.LabelItem) -> None:
    info = label_info()
    labels = store.taxonomy.label_ids
    head = item.title or item.doc or "untitled document"
    st.markdown(f"#### {head}")
    where = " · ".join(x for x in (item.position, item.section, f"`{item.paragraph_id}`") if x)
    mode = "reopened to change your answer" if item.previous_answer else item.reason
    st.caption(f"{where} — {mode}")
    st.html(f'<div class="pmc-card" lang="{_esc(item.lang)}">{ws.highlight_html(item.text, item.spans, labels=labels)}</div>')
    if item.spans:
        legend = " ".join(chip(label) for label in labels if any(s[2] == label for s in item.spans))
        st.html(f'<div class="pmc-muted">Highlighted: model evidence for {legend}</div>')
    if item.before or item.after:
        with st.expander("Context: neighbouring paragraphs"):
            for text in item.before:
                muted("↑ " + text)
            st.markdown("**▶ this paragraph**")
            for text in item.after:
                muted("↓ " + text)
    if item.others:
        st.info("Other annotators: " + "; ".join(
            f"{o['annotator']}: {ws.describe_answer(o['answer'], o['labels'])}" for o in item.others))

    st.markdown("**Which measures does this paragraph describe?**")
    for number, label in enumerate(labels, start=1):
        entry = info[label]
        c_box, c_bar, c_help = st.columns([6, 3, 1], vertical_alignment="center")
        name = f":{MD_COLOURS[number - 1]}-background[{entry['name_en']} · {entry['name_zh']}]" \
            if number <= len(MD_COLOURS) else f"{entry['name_en']} · {entry['name_zh']}"
        c_box.checkbox(f"**{number}** · {name}", key=_checkbox_key(label),
                       help=entry["definition_en"])
        p = item.scores.get(label)
        if p is not None:
            t = item.thresholds.get(label, 0.5)
            c_bar.html(
                f'<div class="pmc-bar" title="model probability {p:.0%}, threshold {t:.0%}">'
                f'<span style="width:{p * 100:.1f}%;background:{"#6366f1" if p >= t else "#a5b4fc"}"></span>'
                f'<i style="left:{t * 100:.1f}%"></i></div><div class="pmc-p">model {p:.0%}</div>'
            )
        with c_help.popover("?", help=f"Codebook: {entry['name_en']}"):
            _definition(entry)
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
                    st.html(f"{chip(label)} <span class='pmc-muted'>{_esc(shown)}</span>")


def _esc(text: str) -> str:
    import html

    return html.escape(text)


def _definition(entry: dict[str, Any]) -> None:
    st.markdown(f"**{entry['name_en']} · {entry['name_zh']}**")
    st.write(entry["definition_en"])
    st.write(entry["definition_zh"])
    if entry["include"]:
        st.markdown("**Include:**\n" + "\n".join(f"- {x}" for x in entry["include"]))
    if entry["exclude"]:
        st.markdown("**Exclude:**\n" + "\n".join(f"- {x}" for x in entry["exclude"]))


# --------------------------------------------------------------------------------------------
# Review


def _reviewer() -> str:
    return _annotator() or st.session_state.get("reviewer_name", "").strip()


def _adjudicate(queue: str, pid: str) -> None:
    store = get_store(DB)
    labels = [label for label in store.taxonomy.label_ids if st.session_state.get(f"adj_{queue}_{pid}_{label}")]
    reviewer = _reviewer()
    if not reviewer:
        st.session_state.flash_error = "Give your name (sidebar) before setting gold labels."
        return
    try:
        ws.adjudicate(store, pid, labels, reviewer=reviewer, note=st.session_state.get(f"adj_{queue}_{pid}_note", ""))
        st.session_state.flash = f"Gold set for {pid}: {', '.join(labels) or 'none'}"
    except PmcError as exc:
        st.session_state.flash_error = str(exc)


def _review_panel(queue: str, pid: str, suggested: list[str]) -> None:
    store = get_store(DB)
    detail = ws.paragraph_review(store, pid, model=current_model())
    st.html(f'<div class="pmc-card">{_esc(detail["text"])}</div>')
    st.caption(f"{detail['title'] or detail['doc']} · paragraph {detail['index'] + 1} · `{pid}` · "
               f"status **{detail['current']['status']}**")
    labels = store.taxonomy.label_ids
    table: dict[str, list[str]] = {}
    for answer in detail["answers"]:
        kind = "" if answer["answer"] == "accept" else f"({answer['answer']}) "
        table[answer["annotator"]] = [kind + ("✓" if label in answer["labels"] else "") for label in labels]
    if detail["gold"] is not None:
        table["gold"] = ["✓" if label in detail["gold"]["labels"] else "" for label in labels]
    if detail["scores"]:
        table["model"] = [f"{detail['scores'][label]:.0%}" + (" ✓" if detail["scores"][label] >= detail["thresholds"][label]
                                                              else "") for label in labels]
    st.dataframe(pd.DataFrame(table, index=list(labels)), width="stretch")
    notes = [f"{a['annotator']}: {a['note']}" for a in detail["answers"] if a["note"]]
    if notes:
        st.caption("Notes — " + " · ".join(notes))
    with st.expander(f"History ({len(detail['history'])} events)"):
        st.dataframe(pd.DataFrame(detail["history"]), width="stretch", hide_index=True)
    with st.form(f"adj_{queue}_{pid}"):
        st.markdown("**Final (gold) labels**")
        info = label_info()
        for label in labels:
            st.checkbox(f"{info[label]['name_en']} · {info[label]['name_zh']}", value=label in suggested,
                        key=f"adj_{queue}_{pid}_{label}")
        st.text_input("Note (why this decision)", key=f"adj_{queue}_{pid}_note")
        st.form_submit_button("Set gold labels", type="primary", on_click=_adjudicate, args=(queue, pid),
                              key=f"adj_submit_{queue}_{pid}")


def _queue_tab(queue: str, items: list[dict[str, Any]], describe: Any, suggested: Any) -> None:
    if not items:
        st.info("Nothing in this queue.")
        return
    by_id = {item["paragraph_id"]: item for item in items}
    pid = st.selectbox(plural(len(items), "paragraph"), list(by_id), key=f"pick_{queue}",
                       format_func=lambda p: describe(by_id[p]))
    if pid:
        _review_panel(queue, pid, suggested(by_id[pid]))


def page_review() -> None:
    st.title("Review")
    for kind, show in (("flash_error", st.error), ("flash", st.success)):
        if st.session_state.get(kind):
            show(st.session_state.pop(kind))
    if not _annotator():
        st.sidebar.text_input("Reviewer name", key="reviewer_name")
    store = get_store(DB)
    queues = ws.review_queues(store, model=current_model())
    names = {"disagreements": "Disagreements", "model_vs_gold": "Model vs gold", "flagged": "Flagged"}
    tabs = st.tabs([f"{names[q]} ({len(queues[q])})" for q in names] + ["All answers", "Agreement"])
    with tabs[0]:
        _queue_tab("disagreements", queues["disagreements"],
                   lambda i: f"[{i['status']}] differ on {', '.join(i['differing_labels'])} — {i['text'][:70]}",
                   lambda i: i["labels"])
    with tabs[1]:
        seen: dict[str, dict[str, Any]] = {}
        for item in queues["model_vs_gold"]:
            seen.setdefault(item["paragraph_id"], item)
        _queue_tab("model_vs_gold", list(seen.values()),
                   lambda i: f"{i['label']}: model {i['p']:.0%}, gold {'has' if i['gold_has_label'] else 'lacks'} it"
                             f" — {i['text'][:60]}",
                   lambda i: i["gold_labels"])
    with tabs[2]:
        _queue_tab("flagged", queues["flagged"],
                   lambda i: f"flagged by {', '.join(f['annotator'] for f in i['flags'])} — {i['text'][:70]}",
                   lambda i: i["labels"])
    with tabs[3]:
        rows = ws.answers_table(store)
        if rows:
            st.dataframe(pd.DataFrame(rows), width="stretch", hide_index=True,
                         column_config={"text": st.column_config.TextColumn(width="large")})
        else:
            st.info("No answers yet.")
    with tabs[4]:
        _agreement_view(cached_agreement(DB, token()))


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _agreement_view(report: dict[str, Any]) -> None:
    if report["paragraphs"] == 0:
        st.info("Agreement needs paragraphs labelled by two or more annotators: set Overlap above 0 on the "
                "Label page.")
    overall = report["overall"]
    c = st.columns(4)
    c[0].metric("Paragraphs with 2+ annotators", report["paragraphs"])
    c[1].metric("Krippendorff's α (all labels)", _fmt(overall["alpha"]))
    c[2].metric("Cohen's κ (two annotators)", _fmt(overall["kappa"]))
    c[3].metric("Exact label-set match", "—" if overall["exact_match"] is None else f"{overall['exact_match']:.0%}")
    st.markdown("**Per label**")
    st.dataframe(pd.DataFrame([{"label": label, "alpha": _fmt(v["alpha"]), "kappa": _fmt(v["kappa"]),
                                "positive answers": v["positives"]} for label, v in report["labels"].items()]),
                 width="stretch", hide_index=True)
    if report["per_annotator"]:
        st.markdown("**Per annotator**")
        st.dataframe(pd.DataFrame([
            {"annotator": name, "paragraphs": v["paragraphs"], "agreement with others": _fmt(v["others"]["agreement"]),
             "κ with others": _fmt(v["others"]["kappa"]), "agreement with gold": _fmt(v["gold"]["agreement"]),
             "κ with gold": _fmt(v["gold"]["kappa"])}
            for name, v in report["per_annotator"].items()]), width="stretch", hide_index=True)


# --------------------------------------------------------------------------------------------
# Model


_STAGES = (("cross-validating", 0.1), ("fitting", 0.6), ("scoring", 0.8), ("saving", 0.95))


def _retrain(repeats: int) -> None:
    store = get_store(DB)
    with st.status("Training a candidate model on the current gold…", expanded=True) as status:
        bar = st.progress(0.02, text="starting")

        def progress(message: str) -> None:
            fraction = next((f for stage, f in _STAGES if message.startswith(stage)), None)
            status.write(message)
            if fraction is not None:
                bar.progress(fraction if repeats or not message.startswith("fitting") else 0.3, text=message)

        try:
            card = ws.retrain(store, registry=REGISTRY, progress=progress, cv_repeats=repeats)
        except PmcError as exc:
            status.update(label="Training failed", state="error")
            st.error(str(exc))
            return
        bar.progress(1.0, text="done")
        status.update(label=f"Candidate {card['version']} trained on {card['training_data']['size']} paragraphs",
                      state="complete", expanded=False)
    st.session_state.candidate = card["version"]


def _model_action(action: str, version: str) -> None:
    store = get_store(DB)
    try:
        if action == "promote":
            result = ws.promote(store, version, registry=REGISTRY)
            st.session_state.flash = f"{version} is now the active model ({result['scored']} paragraphs scored)."
        elif action == "rollback":
            result = ws.rollback(store, version, registry=REGISTRY)
            st.session_state.flash = f"Rolled back to {version} ({result['scored']} paragraphs scored)."
        else:
            ws.discard(store, version, registry=REGISTRY)
            st.session_state.flash = f"Discarded {version}."
        st.session_state.candidate = None
        _reset_item()
    except PmcError as exc:
        st.session_state.flash_error = str(exc)


def page_model() -> None:
    st.title("Model")
    for kind, show in (("flash_error", st.error), ("flash", st.success)):
        if st.session_state.get(kind):
            show(st.session_state.pop(kind))
    store = get_store(DB)
    summary = st.container()  # filled after a retrain, so it shows the new state

    st.subheader("Retrain")
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    repeats = right.number_input("Cross-validation repeats", 0, 5, value=1, key="cv_repeats",
                                 help="Grouped 5-fold CV gives the per-label F1 to compare; 0 trains fastest but "
                                      "the comparison then has no numbers.")
    left.caption("Trains on the current gold and the undisputed annotator labels, saves a new version and "
                 "does NOT activate it: compare it below, then promote or discard it.")
    if left.button("Retrain on current gold", type="primary", key="retrain"):
        _retrain(int(repeats))

    versions = ws.history(store, registry=REGISTRY)
    active = next((v for v in versions if v["active"]), None)
    with summary:
        c = st.columns(4)
        c[0].metric("Active model, trained", active["created"][:10] if active else "none",
                    help=f"version {active['version']}, {active['created']} UTC" if active else None)
        c[1].metric("Trained on", f"{active['size']} paragraphs" if active else "—")
        c[2].metric("Grouped-CV macro F1", _fmt(active["macro_f1"]) if active else "—")
        c[3].metric("Labelled paragraphs now", cached_progress(DB, token(), "")["labelled"])

    candidates = [v for v in versions if v["available"] and not v["active"]]
    st.subheader("Candidate vs active")
    if not candidates:
        st.info("No other model version yet. Retrain to create a candidate.")
    else:
        ids = [v["version"] for v in candidates]
        if st.session_state.get("candidate") in ids:
            st.session_state.compare_version = st.session_state.pop("candidate")
        chosen = st.selectbox("Candidate version", ids, key="compare_version")
        comparison = ws.compare(chosen, registry=REGISTRY)
        _comparison_view(comparison)
        a, b, _ = st.columns([2, 2, 4])
        a.button("Promote to active", type="primary", key="promote", on_click=_model_action, args=("promote", chosen))
        b.button("Discard", key="discard", on_click=_model_action, args=("discard", chosen))

    st.subheader("Version history")
    if versions:
        frame = pd.DataFrame([{**{k: v[k] for k in ("version", "created", "active", "available", "size")},
                               "macro F1 (CV)": _fmt(v["macro_f1"])} for v in versions])
        st.dataframe(frame, width="stretch", hide_index=True)
        older = [v["version"] for v in versions if v["available"] and not v["active"]]
        if older:
            a, b = st.columns([3, 2], vertical_alignment="bottom")
            target = a.selectbox("Roll back to", older, key="rollback_version")
            b.button("Roll back", key="rollback", on_click=_model_action, args=("rollback", target))


def _comparison_view(comparison: dict[str, Any]) -> None:
    sizes = comparison["sizes"]
    st.caption(f"Grouped-CV F1 (mean over folds), each on its own training data: candidate "
               f"{sizes['candidate']} paragraphs, active {sizes['active'] or '—'}.")
    if not comparison["cv"]["candidate"]:
        st.warning("This candidate was trained without cross-validation: retrain with repeats ≥ 1 to compare.")
    rows = comparison["rows"]
    st.dataframe(pd.DataFrame([{"metric": r["metric"], "candidate": _fmt(r["candidate"]), "active": _fmt(r["active"]),
                                "Δ": "—" if r["delta"] is None else f"{r['delta']:+.2f}"} for r in rows]),
                 width="stretch", hide_index=True)
    long = [{"metric": r["metric"], "model": name, "F1": r[key]} for r in rows
            for name, key in (("candidate", "candidate"), ("active", "active")) if r[key] is not None]
    if long:
        chart = alt.Chart(pd.DataFrame(long)).mark_bar().encode(
            x=alt.X("metric:N", sort=[r["metric"] for r in rows], title=None, axis=alt.Axis(labelAngle=-20)),
            xOffset="model:N", y=alt.Y("F1:Q", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("model:N", scale=alt.Scale(range=["#6366f1", "#cbd5e1"])),
            tooltip=["metric", "model", alt.Tooltip("F1:Q", format=".3f")],
        ).properties(height=260)
        st.altair_chart(chart, width="stretch")


# --------------------------------------------------------------------------------------------
# Documents


def _handle_uploads(files: list[Any]) -> None:
    """Add each newly uploaded file once (by upload id); errors become messages, never tracebacks."""
    done: set[str] = st.session_state.setdefault("uploaded_ids", set())
    results = []
    for file in files:
        if file.file_id in done:
            continue
        done.add(file.file_id)
        try:
            result = ws.upload(get_store(DB), file.name, file.getvalue(), model=current_model())
            results.append({"name": file.name, "ok": True, **result})
        except PmcError as exc:
            results.append({"name": file.name, "ok": False, "error": str(exc)})
        except Exception as exc:  # a reader library failing on a malformed file: still a message
            results.append({"name": file.name, "ok": False,
                            "error": f"{file.name}: could not read the file ({type(exc).__name__}: {exc})"})
    if results:
        st.session_state.upload_results = results
        new_docs = [doc for r in results if r["ok"] for doc in r["docs"]]
        if new_docs:
            st.session_state.docs = list(dict.fromkeys(new_docs + st.session_state.get("docs", [])))[:6]


def page_documents() -> None:
    st.title("Documents")
    store = get_store(DB)
    limit_mb = ws.DEFAULT_UPLOAD_BYTES // 1_048_576
    files = st.file_uploader(
        "Add documents", type=[s[1:] for s in ws.UPLOAD_SUFFIXES], accept_multiple_files=True, key="uploader",
        help=f"txt, md, html, docx, pdf, or JSONL paragraphs (one JSON object with 'text' per line); "
             f"up to {limit_mb} MB per file.",
    )
    st.caption(f"Each file is split into paragraphs, stored for labelling and classified. Up to {limit_mb} MB each.")
    if files:
        _handle_uploads(files)
    for result in st.session_state.get("upload_results", []):
        if result["ok"]:
            extra = f"; {len(result['skipped'])} bad lines skipped" if result["skipped"] else ""
            st.success(f"{result['name']}: {result['paragraphs']} paragraphs ({result['new']} new), "
                       f"classified{extra}.")
            for line in result["skipped"][:5]:
                st.caption(line)
        else:
            st.error(result["error"])

    docs = ws.documents(store)
    if not docs:
        st.info("No documents yet.")
        return
    titles = {d["doc"]: f"{d['title'][:60] or d['doc']} ({d['paragraphs']} ¶)" for d in docs}
    if "docs" not in st.session_state:
        st.session_state.docs = [d["doc"] for d in docs[:2]]
    st.session_state.docs = [d for d in st.session_state.docs if d in titles]
    chosen = st.multiselect("Documents to compare", list(titles), format_func=titles.get, key="docs")
    if not chosen:
        st.info("Pick one or more documents to see their measure profiles.")
        return
    if current_model() is None:
        st.warning("No active model yet: train one on the Model page to classify documents.")
        return
    try:
        data = cached_profiles(DB, token(), tuple(chosen))
    except PmcError as exc:
        st.error(str(exc))
        return
    _profile_view(data, titles)
    st.markdown("**Download the predictions**")
    a, b, _ = st.columns([1, 1, 4])
    a.download_button("CSV", cached_download(DB, token(), tuple(chosen), "csv"), file_name="predictions.csv",
                      mime="text/csv", key="dl_csv", icon=":material/download:")
    b.download_button("JSONL", cached_download(DB, token(), tuple(chosen), "jsonl"), file_name="predictions.jsonl",
                      mime="application/jsonl", key="dl_jsonl", icon=":material/download:")


def _profile_view(data: dict[str, Any], titles: dict[str, str]) -> None:
    info = label_info()
    measures = [*data["labels"], "none"]
    names = {m: m.replace("_", " ") for m in measures}
    rows = []
    for doc, entry in data["documents"].items():
        for measure in measures:
            rows.append({"document": titles.get(doc, doc), "measure": names[measure],
                         "share": entry["shares"][measure], "paragraphs": len(entry["paragraphs"][measure]),
                         "of": entry["n"]})
    frame = pd.DataFrame(rows)
    st.markdown("**Measure profile: share of paragraphs per measure** (a paragraph can have several)")
    chart = alt.Chart(frame).mark_bar().encode(
        x=alt.X("measure:N", sort=[names[m] for m in measures], title=None,
                axis=alt.Axis(labelAngle=0, labelLimit=200)),
        xOffset="document:N",
        y=alt.Y("share:Q", axis=alt.Axis(format="%"), title="share of paragraphs"),
        color=alt.Color("document:N", scale=alt.Scale(scheme="tableau10"),
                        legend=alt.Legend(orient="bottom", direction="vertical", title=None, labelLimit=600)),
        tooltip=["document", "measure", alt.Tooltip("share:Q", format=".0%"), "paragraphs", "of"],
    ).properties(height=320)
    st.altair_chart(chart, width="stretch")
    measure = st.selectbox("Paragraphs behind a bar — measure", measures, format_func=names.get, key="behind")
    for doc, entry in data["documents"].items():
        items = entry["paragraphs"][measure]
        with st.expander(f"{titles.get(doc, doc)} — {len(items)} of {entry['n']} paragraphs", expanded=len(
                data["documents"]) == 1):
            if items:
                st.dataframe(pd.DataFrame([{"¶": i["index"] + 1, "p": f"{i['p']:.0%}", "text": i["text"]}
                                           for i in items]), width="stretch", hide_index=True)
            else:
                st.caption("No paragraph with this measure.")


# --------------------------------------------------------------------------------------------
# Codebook


def page_codebook() -> None:
    store = get_store(DB)
    st.title("Codebook")
    taxonomy = store.taxonomy
    st.caption(f"{taxonomy.name} — version {taxonomy.version}. {taxonomy.description}")
    with st.expander("Conventions (read these first)"):
        st.markdown("\n".join(f"- {_esc(c)}" for c in taxonomy.conventions))
    for entry in cached_codebook(DB, (taxonomy.hash, token()[1])):
        with st.container(border=True):
            st.html(f"<h3 style='margin:0'>{chip(entry['id']) if entry['id'] != 'none' else ''}"
                    f"{_esc(entry['name_en'])} · {_esc(entry['name_zh'])}</h3>")
            en, zh = st.columns(2)
            en.markdown(f"**Definition**  \n{entry['definition_en']}")
            zh.markdown(f"**定义**  \n{entry['definition_zh']}")
            if entry["include"] or entry["exclude"]:
                inc, exc = st.columns(2)
                inc.markdown("**Include**\n" + "\n".join(f"- {x}" for x in entry["include"]))
                exc.markdown("**Exclude**\n" + "\n".join(f"- {x}" for x in entry["exclude"]))
            if entry["terms_zh"] or entry["terms_en"]:
                st.caption("Concept terms: " + "、".join(entry["terms_zh"][:20]) + " · " +
                           ", ".join(entry["terms_en"][:20]))
            if entry["examples"]:
                st.markdown(f"**Gold examples** ({entry['gold_count']} gold paragraphs carry this label)")
                st.dataframe(pd.DataFrame([{"lang": x["lang"], "text": x["text"], "labels": ", ".join(x["labels"])
                                            or "none", "source": x["source"]} for x in entry["examples"]]),
                             width="stretch", hide_index=True,
                             column_config={"text": st.column_config.TextColumn(width="large")})


# --------------------------------------------------------------------------------------------
# The page frame

st.set_page_config(page_title="pmc · policy measures", page_icon="🏷️", layout="wide")
st.html(CSS)
st.html(KEYBOARD_JS, unsafe_allow_javascript=True)
DB = _db_path()
REGISTRY = str(models_dir().resolve())
try:
    prepared(DB, REGISTRY)
except PmcError as exc:
    st.error(f"Cannot start: {exc}")
    st.stop()

if "page" not in st.session_state:
    wanted = str(st.query_params.get("page", "Label")).capitalize()
    st.session_state.page = wanted if wanted in PAGES else "Label"
with st.sidebar:
    st.markdown("### pmc · policy measures")
    page = st.radio("Page", PAGES, key="page", format_func=lambda p: f"{PAGE_ICONS[p]} {p}",
                    label_visibility="collapsed")
    st.divider()
st.query_params["page"] = page.lower()
try:
    {"Label": page_label, "Review": page_review, "Model": page_model, "Documents": page_documents,
     "Codebook": page_codebook}[page]()
except PmcError as exc:
    st.error(str(exc))
