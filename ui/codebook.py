"""The Codebook page: the taxonomy in both languages with its gold examples.

Widgets only; the view is `classifier.annotate.codebook`.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import common as c


def page() -> None:
    st.title("Codebook")
    taxonomy = c.workspace().store.taxonomy
    st.caption(f"{taxonomy.name} — version {taxonomy.version}. {taxonomy.description}")
    with st.expander("Conventions (read these first)"):
        st.markdown("\n".join(f"- {c.esc(item)}" for item in taxonomy.conventions))
    for entry in c.codebook(fresh=True):
        with st.container(border=True):
            st.html(f"<h3 style='margin:0'>{c.chip(entry['id']) if entry['id'] != 'none' else ''}"
                    f"{c.esc(entry['name_en'])} · {c.esc(entry['name_zh'])}</h3>")
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


page()
