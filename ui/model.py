"""The Model page: retrain on the current gold, compare with the active model, promote or roll back.

Widgets only; the retrain runs as a background job (`classifier.background`: it survives
leaving the page and reloads, reports its stages, can be cancelled); version actions are
`classifier.retraining`.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from classifier import background, retraining
from classifier.errors import PmcError
from ui import common as c
from ui.label import reset_item

def _start(repeats: int) -> None:
    try:
        background.start_retrain(c.db_path(), by=c.annotator(), registry=c.registry_path(), cv_repeats=repeats)
    except PmcError as exc:
        st.session_state.flash_error = str(exc)


def _cancel() -> None:
    job = background.current_job(c.db_path())
    if job is not None:
        job.cancel()


def _job_view() -> None:
    """The store's retrain, wherever it was started: it runs in the background, so leaving this
    page or reloading does not stop it."""
    job = background.current_job(c.db_path())
    if job is None:
        return
    if job.running:
        st.progress(min(max(job.fraction, 0.02), 1.0), text=f"Retraining: {job.stage}")
        st.button("Cancel retraining", key="cancel_retrain", on_click=_cancel)
        return
    seen = st.session_state.get("job_seen")
    if seen == job.started_at:
        return
    st.session_state.job_seen = job.started_at
    if job.state == "done" and job.result:
        st.session_state.candidate = job.result["version"]
        st.session_state.flash = (f"Candidate {job.result['version']} trained on "
                                  f"{job.result['training_data']['size']} paragraphs: compare it below.")
    elif job.state == "cancelled":
        st.session_state.flash = "Retraining cancelled; no version was saved."
    else:
        st.session_state.flash_error = f"Retraining failed: {job.error}"
    st.rerun()  # the whole page shows the new version


def _action(action: str, version: str) -> None:
    ws = c.workspace()
    try:
        if action == "promote":
            result = retraining.promote(ws, version, by=c.annotator())
            st.session_state.flash = f"{version} is now the active model ({result['scored']} paragraphs scored)."
        elif action == "rollback":
            result = retraining.rollback(ws, version, by=c.annotator())
            st.session_state.flash = f"Rolled back to {version} ({result['scored']} paragraphs scored)."
        else:
            retraining.discard(ws, version, by=c.annotator())
            st.session_state.flash = f"Discarded {version}."
        st.session_state.candidate = None
        reset_item()
    except PmcError as exc:
        st.session_state.flash_error = str(exc)


def _comparison_view(comparison: dict[str, Any]) -> None:
    sizes = comparison["sizes"]
    st.caption(f"Grouped-CV F1 (mean over folds), each on its own training data: candidate "
               f"{sizes['candidate']} paragraphs, active {sizes['active'] or '—'}.")
    if not comparison["cv"]["candidate"]:
        st.warning("This candidate was trained without cross-validation: retrain with repeats ≥ 1 to compare.")
    rows = comparison["rows"]
    st.dataframe(pd.DataFrame([{"metric": r["metric"], "candidate": c.fmt(r["candidate"]), "active": c.fmt(r["active"]),
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


def page() -> None:
    st.title("Model")
    c.flash()
    ws = c.workspace()
    summary = st.container()  # filled after a retrain, so it shows the new state

    st.subheader("Retrain")
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    repeats = right.number_input("Cross-validation repeats", 0, 5, value=1, key="cv_repeats",
                                 help="Grouped 5-fold CV gives the per-label F1 to compare; 0 trains fastest but "
                                      "the comparison then has no numbers.")
    left.caption("Trains on the current gold and the undisputed annotator labels, saves a new version and "
                 "does NOT activate it: compare it below, then promote or discard it.")
    job = background.current_job(c.db_path())
    left.button("Retrain on current gold", type="primary", key="retrain", on_click=_start, args=(int(repeats),),
                disabled=job is not None and job.running)
    if job is not None and job.running:
        st.fragment(run_every=1.0)(_job_view)()  # polls only while a retrain runs
    else:
        _job_view()

    versions = retraining.history(ws)
    active = next((v for v in versions if v["active"]), None)
    with summary:
        cols = st.columns(4)
        cols[0].metric("Active model, trained", active["created"][:10] if active else "none",
                       help=f"version {active['version']}, {active['created']} UTC" if active else None)
        cols[1].metric("Trained on", f"{active['size']} paragraphs" if active else "—")
        cols[2].metric("Grouped-CV macro F1", c.fmt(active["macro_f1"]) if active else "—")
        cols[3].metric("Labelled paragraphs now", c.progress()["labelled"])

    candidates = [v for v in versions if v["available"] and not v["active"]]
    st.subheader("Candidate vs active")
    if not candidates:
        st.info("No other model version yet. Retrain to create a candidate.")
    else:
        ids = [v["version"] for v in candidates]
        if st.session_state.get("candidate") in ids:
            st.session_state.compare_version = st.session_state.pop("candidate")
        chosen = st.selectbox("Candidate version", ids, key="compare_version")
        _comparison_view(retraining.compare(ws, chosen))
        a, b, _ = st.columns([2, 2, 4])
        a.button("Promote to active", type="primary", key="promote", on_click=_action, args=("promote", chosen))
        b.button("Discard", key="discard", on_click=_action, args=("discard", chosen))

    st.subheader("Version history")
    if versions:
        frame = pd.DataFrame([{**{k: v[k] for k in ("version", "created", "active", "available", "size")},
                               "macro F1 (CV)": c.fmt(v["macro_f1"])} for v in versions])
        st.dataframe(frame, width="stretch", hide_index=True)
        older = [v["version"] for v in versions if v["available"] and not v["active"]]
        if older:
            a, b = st.columns([3, 2], vertical_alignment="bottom")
            target = a.selectbox("Roll back to", older, key="rollback_version")
            b.button("Roll back", key="rollback", on_click=_action, args=("rollback", target))


page()
