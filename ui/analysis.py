"""The Analysis page: which measures a year, campaign, publisher or language emphasises, and the
figures each measure reported, with the paragraph behind every number.

Widgets and charts only; the records, metadata and profiles are `classifier.analysis`, the
figures `classifier.text.figures`.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from classifier.analysis import NO_GROUP, profile_groups, store_view
from classifier.annotate.highlight import CHART_COLOURS
from classifier.corpus import SPREADSHEET_BOM
from classifier.text.figures import KINDS, find_figures
from ui import common as c

GROUP_NAMES = {"year": "Year", "month": "Month", "campaign": "Campaign", "publisher": "Publisher", "lang": "Language"}


@st.cache_data(show_spinner="Reading the store…", max_entries=4)
def _view(db: str, token: tuple, human_only: bool) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    return store_view(c.workspace(), human_only=human_only)


@st.cache_data(show_spinner="Finding the figures…", max_entries=4)
def _figures(db: str, token: tuple, human_only: bool) -> list[dict[str, Any]]:
    records, metas = _view(db, token, human_only)
    rows = []
    for record in records:
        for figure in find_figures(record["text"]):
            meta = metas.get(record["doc"], {})
            rows.append({"kind": figure.kind, "value": figure.value, "qualifier": figure.qualifier,
                         "figure": figure.text, "measures": ", ".join(record["labels"]) or "none",
                         "date": meta.get("date", ""), "campaigns": ", ".join(x["id"] for x in meta.get("campaigns", [])),
                         "publisher": meta.get("publisher", ""), "doc": record["doc"], "index": record["index"],
                         "labels from": record["source"], "paragraph": record["text"]})
    return rows


def _profile_chart(rows: list[dict[str, Any]], labels: tuple[str, ...], by: str, stacked: bool) -> alt.Chart:
    long = [{"group": row["group"], "measure": m, "share": row["shares"][m], "paragraphs": row["counts"][m],
             "of": row["paragraphs"]} for row in rows for m in [*labels, "none"]]
    colours = [CHART_COLOURS[i] if i < len(CHART_COLOURS) else "#94a3b8" for i in range(len(labels))] + ["#cbd5e1"]
    base = alt.Chart(pd.DataFrame(long)).encode(
        x=alt.X("group:N", title=GROUP_NAMES[by], sort=None),
        color=alt.Color("measure:N", scale=alt.Scale(domain=[*labels, "none"], range=colours)),
        tooltip=["group", "measure", alt.Tooltip("share:Q", format=".0%"), "paragraphs", "of"],
    )
    if stacked:
        return base.mark_bar().encode(y=alt.Y("paragraphs:Q", stack="zero", title="paragraphs")).properties(height=340)
    return base.mark_bar().encode(y=alt.Y("share:Q", axis=alt.Axis(format="%"), title="share of paragraphs"),
                                  xOffset="measure:N").properties(height=340)


def page() -> None:
    st.title("Analysis")
    labels = c.labels()
    left, mid, right = st.columns([2, 2, 3], vertical_alignment="bottom")
    by = left.selectbox("Group by", list(GROUP_NAMES), format_func=GROUP_NAMES.get, key="analysis_by")
    layout = mid.radio("Chart", ["Side by side", "Stacked"], horizontal=True, key="analysis_layout")
    human_only = right.toggle("Only human-labelled paragraphs", key="analysis_human",
                              help="Leave out paragraphs whose labels would come from the model.")
    records, metas = _view(c.db_path(), c.token(), human_only)
    if not records:
        st.info("No labelled or scored paragraphs yet: add documents on the Documents page.")
        return
    rows = profile_groups(records, metas, labels, by=by)
    if by in ("year", "month"):  # time runs left to right; undated last
        rows.sort(key=lambda r: (r["group"] == NO_GROUP, r["group"]))
    model_share = sum(r["paragraphs"] - r["from_gold"] for r in rows) / max(1, sum(r["paragraphs"] for r in rows))
    st.caption(f"{len(records)} paragraphs of {len(metas)} documents; {model_share:.0%} of the labels come from "
               f"the model, the rest from people (gold or undisputed answers). `(none)`: no date, campaign or "
               f"publisher found.")
    st.altair_chart(_profile_chart(rows, labels, by, layout == "Stacked"), width="stretch")
    table = pd.DataFrame([{GROUP_NAMES[by]: r["group"], "paragraphs": r["paragraphs"], "documents": r["documents"],
                           "human-labelled": r["from_gold"], **{m: f"{r['shares'][m]:.0%} ({r['counts'][m]})"
                                                               for m in [*labels, "none"]}} for r in rows])
    st.dataframe(table, width="stretch", hide_index=True)
    st.download_button("Profile as CSV", SPREADSHEET_BOM + table.to_csv(index=False), file_name=f"profile_by_{by}.csv",
                       mime="text/csv", key="dl_profile", icon=":material/download:")
    saved = c.model()
    cv = ((saved.card.get("cv") or {}).get("models", {}).get("model", {}) if saved else {})
    if cv and model_share > 0:
        with st.expander("How sure are the model's labels?"):
            st.caption("Per-label precision and recall of the active model in grouped cross-validation on real "
                       "paragraphs (documents never seen in training).")
            st.dataframe(pd.DataFrame([{"measure": m, "precision": c.fmt(v["precision"]["mean"]),
                                        "recall": c.fmt(v["recall"]["mean"])} for m, v in cv["per_label"].items()]),
                         hide_index=True)

    st.subheader("Figures reported per measure")
    figures = pd.DataFrame(_figures(c.db_path(), c.token(), human_only))
    if figures.empty:
        st.info("No figures found in these paragraphs.")
        return
    a, b = st.columns(2)
    kinds = a.multiselect("Kind", [k for k in KINDS if k in set(figures["kind"])], key="fig_kinds")
    measure = b.selectbox("Measure", ["any", *labels, "none"], key="fig_measure")
    shown = figures
    if kinds:
        shown = shown[shown["kind"].isin(kinds)]
    if measure != "any":
        shown = shown[shown["measures"].str.split(", ").apply(lambda ms: measure in ms)]
    st.caption(f"{len(shown)} figures. Extraction finds about half of the figures and is right 95 % of the time "
               f"(docs/figures.md): totals are lower bounds. Select a row to read its paragraph.")
    picked = st.dataframe(shown.drop(columns=["paragraph"]), width="stretch", hide_index=True, key="fig_table",
                          on_select="rerun", selection_mode="single-row")
    selected = picked.selection.rows if picked is not None else []
    if selected:
        row = shown.iloc[selected[0]]
        st.html(f'<div class="pmc-card">{c.esc(row["paragraph"])}</div>')
        st.caption(f"{c.md(row['doc'])} · paragraph {int(row['index']) + 1} · labels from {row['labels from']}")
    st.download_button("Figures as CSV", SPREADSHEET_BOM + shown.to_csv(index=False), file_name="figures.csv",
                       mime="text/csv", key="dl_figures", icon=":material/download:")


page()
