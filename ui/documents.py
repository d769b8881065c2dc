"""The Documents page: upload and classify documents, compare their measure profiles, download.

Widgets only; reading, storing, scoring and profiles are `classifier.corpus`.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from classifier import corpus
from classifier.errors import PmcError
from classifier.store import document_meta, edit_document_meta
from ui import common as c


@st.cache_data(show_spinner=False, max_entries=16)
def _profiles(db: str, token: tuple, docs: tuple[str, ...]) -> dict[str, Any]:
    return corpus.profiles(c.workspace(), list(docs))


WIDGET_CEILING_MB = 200  # the browser widget's own ceiling, well above the app's limit (corpus.DEFAULT_UPLOAD_BYTES)


@st.cache_data(show_spinner=False, max_entries=16)
def _download(db: str, token: tuple, docs: tuple[str, ...], fmt: str) -> str:
    return corpus.download(c.workspace(), list(docs), fmt)


def _handle_uploads(files: list[Any]) -> None:
    """Add each newly uploaded file once (by upload id); errors become messages, never tracebacks."""
    done: set[str] = st.session_state.setdefault("uploaded_ids", set())
    results = []
    for file in files:
        if file.file_id in done:
            continue
        done.add(file.file_id)
        try:
            c.model()
            result = corpus.upload(c.workspace(), file.name, file.getvalue(), by=c.annotator())
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


def page() -> None:
    st.title("Documents")
    c.flash()
    limit_mb = corpus.DEFAULT_UPLOAD_BYTES // 1_048_576
    user = st.session_state.get("user")
    if user is not None and user.can("admin"):  # uploads are an admin's (store.users; corpus.upload checks)
        files = st.file_uploader(
            "Add documents", type=[s[1:] for s in corpus.UPLOAD_SUFFIXES], accept_multiple_files=True, key="uploader",
            help=f"txt, md, html, docx, pdf, or JSONL paragraphs (one JSON object with 'text' per line); "
                 f"up to {limit_mb} MB per file.",
            # The widget lets larger files through, so the app's own limit answers them with a message
            # that says what to do (the widget would only show a red icon).
            max_upload_size=WIDGET_CEILING_MB,
        )
        st.caption(f"Each file is split into paragraphs, stored for labelling and classified. Up to {limit_mb} MB each.")
        if files:
            _handle_uploads(files)
    for result in st.session_state.get("upload_results", []):
        if result["ok"]:
            extra = f"; {len(result['skipped'])} bad lines skipped" if result["skipped"] else ""
            st.success(f"{c.md(result['name'])}: {result['paragraphs']} paragraphs ({result['new']} new), "
                       f"classified{extra}.")
            for line in result["skipped"][:5]:
                st.caption(c.md(line))
        else:
            st.error(c.md(result["error"]))

    docs = corpus.documents(c.workspace())
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
    _metadata_editor(chosen[0], titles)
    if c.model() is None:
        st.warning("No active model yet: train one on the Model page to classify documents.")
        return
    try:
        data = _profiles(c.db_path(), c.token(), tuple(chosen))
    except PmcError as exc:
        st.error(c.md(str(exc)))
        return
    _profile_view(data, titles)
    st.markdown("**Download the predictions**")
    a, b, _ = st.columns([1, 1, 4])
    a.download_button("CSV", _download(c.db_path(), c.token(), tuple(chosen), "csv"), file_name="predictions.csv",
                      mime="text/csv", key="dl_csv", icon=":material/download:")
    b.download_button("JSONL", _download(c.db_path(), c.token(), tuple(chosen), "jsonl"), file_name="predictions.jsonl",
                      mime="application/jsonl", key="dl_jsonl", icon=":material/download:")


def _save_meta(doc: str) -> None:
    changes = {field: st.session_state.get(f"meta_{field}", "").strip() for field in ("date", "publisher", "campaign")}
    try:
        edit_document_meta(c.workspace().store, doc, changes)
        st.session_state.flash = f"Metadata of {doc} saved."
    except PmcError as exc:
        st.session_state.flash_error = str(exc)


def _metadata_editor(doc: str, titles: dict[str, str]) -> None:
    """The document's date, publisher and campaign as extracted at ingest, correctable here."""
    meta = document_meta(c.workspace().store, [doc]).get(doc, {})
    campaigns = ", ".join(x["id"] + (f"-{x['year']}" if x.get("year") else "") for x in meta.get("campaigns", []))
    inferred = " (year inferred)" if meta.get("date_inferred") else ""
    with st.expander(f"Metadata of {titles[doc]}: {meta.get('date') or 'no date'}{inferred} · "
                     f"{meta.get('publisher') or 'no publisher'} · {campaigns or 'no campaign'}"):
        with st.form(f"meta_form_{doc}"):
            a, b, d = st.columns(3)
            a.text_input("Date (YYYY, YYYY-MM or YYYY-MM-DD)", value=meta.get("date", "").lstrip("-"), key="meta_date")
            b.text_input("Publisher", value=meta.get("publisher", ""), key="meta_publisher")
            d.text_input("Campaign id (labels/campaigns.toml)", value=meta.get("campaign", ""), key="meta_campaign")
            st.form_submit_button("Save metadata", on_click=_save_meta, args=(doc,))
        st.caption("Extracted at ingest: " + (", ".join(meta.get("extracted", [])) or "nothing") +
                   (" · edited: " + ", ".join(meta["edited"]) if meta.get("edited") else ""))


def _profile_view(data: dict[str, Any], titles: dict[str, str]) -> None:
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
        with st.expander(f"{c.md(titles.get(doc, doc))} — {len(items)} of {entry['n']} paragraphs", expanded=len(
                data["documents"]) == 1):
            if items:
                st.dataframe(pd.DataFrame([{"¶": i["index"] + 1, "p": f"{i['p']:.0%}", "text": i["text"]}
                                           for i in items]), width="stretch", hide_index=True)
            else:
                st.caption("No paragraph with this measure.")


page()
