"""Shared resources and drawing helpers of the app's pages.

Resources are cached per process (`st.cache_resource`: the workspace, its store connection);
results per data version (`st.cache_data` keyed on `token()`, which changes whenever answers,
gold, documents or the active model change). Helpers only draw what they are given; every
string from a document or a user goes through `esc()` or a text element, never raw HTML.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from typing import Any

import streamlit as st

from classifier.annotate import codebook as codebook_view
from classifier.annotate import review as review_actions
from classifier.annotate import session
from classifier.annotate.highlight import label_colour
from classifier.paths import default_db_path, models_dir, store_key
from classifier.scoring.registry import SavedModel
from classifier.workspace import Workspace

# Streamlit's markdown background colours closest to highlight.LABEL_COLOURS, in codebook order.
MD_COLOURS = ("red", "blue", "green", "orange", "violet")


def db_path() -> str:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db", default=None)
    args, _ = parser.parse_known_args(sys.argv[1:])
    return store_key(args.db or default_db_path())


def registry_path() -> str:
    return str(models_dir().resolve())


@st.cache_resource(show_spinner=False)
def _workspace(db: str, registry: str) -> Workspace:
    return Workspace.open(db, registry=registry)


def workspace() -> Workspace:
    """The app's workspace (one store connection per process, shared by sessions)."""
    return _workspace(db_path(), registry_path())


@st.cache_resource(show_spinner="Scoring the paragraphs with the active model…")
def _scored_for(db: str, registry: str, version: str) -> int:
    """Once per model version: log it in the store and fill the score cache."""
    ws = _workspace(db, registry)
    ws.sync_models()
    return ws.score_store(saved=ws.load(version))


def model() -> SavedModel | None:
    """The active model, with the store's score cache filled for it."""
    ws = workspace()
    version = ws.active_version
    if version is None:
        return None
    _scored_for(db_path(), registry_path(), version)
    return ws.load(version)


def token() -> tuple:
    return workspace().data_version()


@st.cache_data(show_spinner=False, max_entries=8)
def _progress(db: str, token: tuple, annotator: str) -> dict[str, Any]:
    return session.progress_summary(workspace(), annotator or None)


def progress(annotator: str = "") -> dict[str, Any]:
    return _progress(db_path(), token(), annotator)


@st.cache_data(show_spinner=False, max_entries=4)
def _codebook(db: str, key: tuple) -> list[dict[str, Any]]:
    return codebook_view.codebook(workspace().store)


def codebook(*, fresh: bool = False) -> list[dict[str, Any]]:
    """The codebook view (refreshed with the gold when `fresh`)."""
    ws = workspace()
    return _codebook(db_path(), (ws.store.taxonomy.hash, token()[1] if fresh else 0))


def label_info() -> dict[str, dict[str, Any]]:
    return {entry["id"]: entry for entry in codebook()}


@st.cache_data(show_spinner=False, max_entries=4)
def _agreement(db: str, token: tuple) -> dict[str, Any]:
    return review_actions.agreement(workspace())


def agreement() -> dict[str, Any]:
    return _agreement(db_path(), token())


def labels() -> tuple[str, ...]:
    return workspace().store.taxonomy.label_ids


def chip(label: str) -> str:
    return f'<span class="pmc-chip" style="background:{label_colour(label, labels())}">{esc(label)}</span>'


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def esc(text: str) -> str:
    """Text for an `st.html` block: every character escaped."""
    return html.escape(text)


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$])")


def md(text: object) -> str:
    """Text for a Streamlit element that renders Markdown (captions, messages, expander labels):
    every Markdown character escaped, so a title, a name, a note or a file name can never become
    a link, an image (a tracking pixel), bold text or a colour directive."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def muted(text: str) -> None:
    st.html(f'<div class="pmc-muted">{esc(text)}</div>')


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def flash(*, success: Any = st.success) -> None:
    """Show (once) the messages a callback left in the session state."""
    for kind, show in (("flash_error", st.error), ("flash", success)):
        if st.session_state.get(kind):
            show(md(st.session_state.pop(kind)))


def annotator() -> str:
    return st.session_state.get("annotator", "")


def definition(entry: dict[str, Any]) -> None:
    st.markdown(f"**{entry['name_en']} · {entry['name_zh']}**")
    st.write(entry["definition_en"])
    st.write(entry["definition_zh"])
    if entry["include"]:
        st.markdown("**Include:**\n" + "\n".join(f"- {x}" for x in entry["include"]))
    if entry["exclude"]:
        st.markdown("**Exclude:**\n" + "\n".join(f"- {x}" for x in entry["exclude"]))
