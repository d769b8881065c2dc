"""pmc — the labelling and review app (Streamlit): the frame around the pages in `ui/`.

Page config and style, first-start bootstrap, then `st.navigation` over one
file per page (`ui/label.py`, `ui/review.py`, `ui/model.py`, `ui/documents.py`,
`ui/analysis.py`, `ui/codebook.py`); each page is a short script over one library module, and shared cached
resources live in `ui/common.py`.

Run with `pmc app` (seeds, trains and starts), or directly:
    streamlit run app.py -- --db data/pmc.sqlite
The store is `--db`, else `PMC_DB`, else `data/pmc.sqlite`; the model registry is
`PMC_MODELS_DIR`, else `data/models`.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from classifier.bootstrap import bootstrap
from classifier.errors import PmcError
from ui import common, signin

PAGES = (
    ("ui/label.py", "Label", ":material/label:"),
    ("ui/review.py", "Review", ":material/rule:"),
    ("ui/model.py", "Model", ":material/model_training:"),
    ("ui/documents.py", "Documents", ":material/description:"),
    ("ui/analysis.py", "Analysis", ":material/insights:"),
    ("ui/codebook.py", "Codebook", ":material/menu_book:"),
)
CSS = """
<style>
.pmc-card {font-size: 1.12rem; line-height: 1.75; padding: 0.9rem 1.1rem; border-left: 4px solid #6366f1;
  background: #f8fafc; border-radius: 6px; white-space: pre-wrap; color: #0f172a;}
.pmc-title {margin: 0 0 0.2rem 0; font-size: 1.25rem; font-weight: 600;}
.pmc-muted {color: #64748b; font-size: 0.92rem; line-height: 1.6; white-space: pre-wrap;}
.pmc-evidence {padding: 0 2px; border-radius: 3px;}
.pmc-chip {display: inline-block; padding: 0 0.45rem; border-radius: 0.6rem; font-size: 0.85rem; margin-right: 0.25rem;}
[data-testid="stMainBlockContainer"] {padding-top: 2.5rem;}
</style>
"""
# Streamlit ignores shortcut keys while an <input> has focus, and clicking a checkbox focuses it;
# give focus back to the page after each tick so 1-5 and Enter keep working with the mouse too.
# A constant script: no paragraph text or other data is ever interpolated into it.


@st.cache_resource(show_spinner="First start: seeding the store and training a model…")
def prepared(db: str, registry: str) -> dict[str, Any]:
    return bootstrap(db, registry=registry)


st.set_page_config(page_title="pmc · policy measures", page_icon=":material/label:", layout="wide")
st.html(CSS)
try:
    prepared(common.db_path(), common.registry_path())
except PmcError as exc:
    st.error(f"Cannot start: {common.md(exc)}")
    st.stop()

with st.sidebar:
    st.markdown("### pmc · policy measures")
user = signin.gate()  # nobody past this line is unknown, disabled or signed out
with st.sidebar:
    signin.sidebar(user)
navigation = st.navigation([st.Page(path, title=title, icon=icon, default=i == 0)
                            for i, (path, title, icon) in enumerate(signin.allowed_pages(user, PAGES))])
try:
    navigation.run()
except PmcError as exc:
    st.error(common.md(exc))
