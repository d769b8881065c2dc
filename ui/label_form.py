"""The Label page's answer form: labels, note and keys in the browser, one submission per answer.

A Streamlit v2 component (`label_form.js`, `label_form.css`; no iframe, no build step). The
form keeps the toggles and the note locally, so keystrokes never wait for the server, and
sends `submit` = `{paragraph_id, token, answer, labels, note, seq}` or `back` = `{token, seq}`
as one trigger. `form_data()` is what the form is given; `last_event()` reads a trigger in a
callback. Saving and refusing stale submissions is `classifier.annotate.session.submit`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import streamlit as st

from classifier.annotate.highlight import highlight_html, label_colour
from classifier.annotate.session import LabelItem

__all__ = ["KEY", "form_data", "label_form", "last_event"]

KEY = "label_form"
_HERE = Path(__file__).resolve().parent
_FORM = st.components.v2.component(
    "pmc_label_form",
    js=(_HERE / "label_form.js").read_text(encoding="utf-8"),
    css=(_HERE / "label_form.css").read_text(encoding="utf-8"),
)


def form_data(
    item: LabelItem,
    *,
    labels: tuple[str, ...],
    info: Mapping[str, Mapping[str, Any]],
    ack: int = 0,
    message: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Everything the form shows for `item` (plain JSON). Scores are absent in blind mode
    because a blind item carries none."""
    return {
        "token": item.token,
        "paragraph_id": item.paragraph_id,
        "lang": item.lang,
        "html": highlight_html(item.text, item.spans, labels=labels),
        "labels": [
            {
                "id": label, "key": str(number), "colour": label_colour(label, labels),
                "name": f"{info[label]['name_en']} · {info[label]['name_zh']}",
                "definition": info[label]["definition_en"],
                "p": item.scores.get(label), "t": item.thresholds.get(label, 0.5),
            }
            for number, label in enumerate(labels, start=1)
        ],
        "prefill": list(item.prefill),
        "note": (item.previous_answer or {}).get("note", ""),
        "ack": ack,
        "message": dict(message) if message else None,
    }


def label_form(data: Mapping[str, Any], *, on_submit: Callable[[], None], on_back: Callable[[], None]) -> None:
    """Mount the form; `on_submit`/`on_back` run (before the next script run) on its triggers."""
    _FORM(key=KEY, data=dict(data), on_submit_change=on_submit, on_back_change=on_back)


def last_event(name: str) -> dict[str, Any] | None:
    """The payload of the form's `name` trigger in the current run (in a callback), or None."""
    value = st.session_state.get(KEY)
    event = value.get(name) if isinstance(value, Mapping) else None
    return event if isinstance(event, dict) else None
