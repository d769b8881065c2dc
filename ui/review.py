"""The Review page: disagreements, model-vs-gold conflicts, flags; gold labels with a note; agreement.

Widgets only; the queues, the side-by-side view and adjudication are `classifier.annotate.review`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from classifier.annotate import review
from classifier.errors import PmcError
from classifier.scoring.decision import is_on
from ui import common as c


def _reviewer() -> str:
    return c.annotator()  # the signed-in identity (ui/signin.py): nobody adjudicates as someone else


def _adjudicate(queue: str, pid: str) -> None:
    labels = [label for label in c.labels() if st.session_state.get(f"adj_{queue}_{pid}_{label}")]
    reviewer = _reviewer()
    if not reviewer:
        st.session_state.flash_error = "Give your name (sidebar) before setting gold labels."
        return
    try:
        review.adjudicate(c.workspace(), pid, labels, reviewer=reviewer,
                          note=st.session_state.get(f"adj_{queue}_{pid}_note", ""))
        st.session_state.flash = f"Gold set for {pid}: {', '.join(labels) or 'none'}"
    except PmcError as exc:
        st.session_state.flash_error = str(exc)


def _panel(queue: str, pid: str, suggested: list[str]) -> None:
    c.model()
    detail = review.paragraph_review(c.workspace(), pid)
    st.html(f'<div class="pmc-card">{c.esc(detail["text"])}</div>')
    st.caption(f"{c.md(detail['title'] or detail['doc'])} · paragraph {detail['index'] + 1} · `{pid}` · "
               f"status **{detail['current']['status']}**")
    labels = c.labels()
    table: dict[str, list[str]] = {}
    for answer in detail["answers"]:
        kind = "" if answer["answer"] == "accept" else f"({answer['answer']}) "
        table[answer["annotator"]] = [kind + ("✓" if label in answer["labels"] else "") for label in labels]
    if detail["gold"] is not None:
        table["gold"] = ["✓" if label in detail["gold"]["labels"] else "" for label in labels]
    if detail["scores"]:
        table["model"] = [f"{detail['scores'][label]:.0%}" + (" ✓" if is_on(detail["scores"][label], detail["thresholds"][label])
                                                              else "") for label in labels]
    st.dataframe(pd.DataFrame(table, index=list(labels)), width="stretch")
    notes = [f"{a['annotator']}: {a['note']}" for a in detail["answers"] if a["note"]]
    if notes:
        st.caption("Notes — " + " · ".join(c.md(n) for n in notes))
    with st.expander(f"History ({len(detail['history'])} events)"):
        st.dataframe(pd.DataFrame(detail["history"]), width="stretch", hide_index=True)
    with st.form(f"adj_{queue}_{pid}"):
        st.markdown("**Final (gold) labels**")
        info = c.label_info()
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
    pid = st.selectbox(c.plural(len(items), "paragraph"), list(by_id), key=f"pick_{queue}",
                       format_func=lambda p: describe(by_id[p]))
    if pid:
        _panel(queue, pid, suggested(by_id[pid]))


def _agreement_view(report: dict[str, Any]) -> None:
    if report["paragraphs"] == 0:
        st.info("Agreement needs paragraphs labelled by two or more annotators: set Overlap above 0 on the "
                "Label page.")
    overall = report["overall"]
    cols = st.columns(4)
    cols[0].metric("Paragraphs with 2+ annotators", report["paragraphs"])
    cols[1].metric("Krippendorff's α (all labels)", c.fmt(overall["alpha"]))
    cols[2].metric("Cohen's κ (two annotators)", c.fmt(overall["kappa"]))
    cols[3].metric("Exact label-set match", "—" if overall["exact_match"] is None else f"{overall['exact_match']:.0%}")
    st.markdown("**Per label**")
    st.dataframe(pd.DataFrame([{"label": label, "alpha": c.fmt(v["alpha"]), "kappa": c.fmt(v["kappa"]),
                                "positive answers": v["positives"]} for label, v in report["labels"].items()]),
                 width="stretch", hide_index=True)
    if report["per_annotator"]:
        st.markdown("**Per annotator**")
        st.dataframe(pd.DataFrame([
            {"annotator": name, "paragraphs": v["paragraphs"], "agreement with others": c.fmt(v["others"]["agreement"]),
             "κ with others": c.fmt(v["others"]["kappa"]), "agreement with gold": c.fmt(v["gold"]["agreement"]),
             "κ with gold": c.fmt(v["gold"]["kappa"])}
            for name, v in report["per_annotator"].items()]), width="stretch", hide_index=True)


def page() -> None:
    st.title("Review")
    c.flash()
    c.model()
    ws = c.workspace()
    queues = review.review_queues(ws)
    names = {"disagreements": "Disagreements", "differs_from_gold": "Answer differs from gold",
             "model_vs_gold": "Model vs gold", "flagged": "Flagged"}
    tabs = st.tabs([f"{names[q]} ({len(queues[q])})" for q in names] + ["All answers", "Agreement"])
    with tabs[0]:
        _queue_tab("disagreements", queues["disagreements"],
                   lambda i: f"[{i['status']}] differ on {', '.join(i['differing_labels'])} — {i['text'][:70]}",
                   lambda i: i["labels"])
    with tabs[1]:
        _queue_tab("differs_from_gold", queues["differs_from_gold"],
                   lambda i: f"{', '.join(i['answers'])} differ from gold on {', '.join(i['differing_labels'])}"
                             f" — {i['text'][:60]}",
                   lambda i: i["gold_labels"])
    with tabs[2]:
        _queue_tab("model_vs_gold", queues["model_vs_gold"],
                   lambda i: "; ".join(f"{x['label']}: model {x['p']:.0%}, gold {'has' if x['gold_has_label'] else 'lacks'} it"
                                       for x in i["conflicts"]) + f" — {i['text'][:60]}",
                   lambda i: i["gold_labels"])
    with tabs[3]:
        _queue_tab("flagged", queues["flagged"],
                   lambda i: f"flagged by {', '.join(f['annotator'] for f in i['flags'])} — {i['text'][:70]}",
                   lambda i: i["labels"])
    with tabs[4]:
        rows = review.answers_table(ws)
        if rows:
            st.dataframe(pd.DataFrame(rows), width="stretch", hide_index=True,
                         column_config={"text": st.column_config.TextColumn(width="large")})
        else:
            st.info("No answers yet.")
    with tabs[5]:
        _agreement_view(c.agreement())


page()
