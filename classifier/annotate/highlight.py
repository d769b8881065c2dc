"""Highlighting: paragraph text as escaped HTML with evidence spans in each label's colour.

Paragraph text is never rendered as raw HTML: every character is escaped, and only escaped
text goes inside the `<mark>` elements. `LABEL_COLOURS` is the one palette of the labels.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

__all__ = ["LABEL_COLOURS", "CHART_COLOURS", "FALLBACK_COLOUR", "label_colour", "highlight_html"]

# One soft colour per label, in codebook order (a sixth label would fall back to grey).
LABEL_COLOURS = ("#fecaca", "#bfdbfe", "#bbf7d0", "#fde68a", "#e9d5ff")
CHART_COLOURS = ("#ef4444", "#3b82f6", "#22c55e", "#f59e0b", "#a855f7")  # the same hues, strong, for charts
FALLBACK_COLOUR = "#e5e7eb"


def label_colour(label: str, labels: Sequence[str]) -> str:
    """The colour of `label` among `labels` (codebook order)."""
    i = list(labels).index(label) if label in labels else -1
    return LABEL_COLOURS[i] if 0 <= i < len(LABEL_COLOURS) else FALLBACK_COLOUR


def highlight_html(
    text: str,
    spans: Iterable[tuple[int, int, str, float]],
    *,
    labels: Sequence[str] = (),
) -> str:
    """Paragraph text as HTML: every character escaped, evidence spans wrapped in `<mark>`.

    Only escaped text goes inside the marks; overlapping or out-of-range spans are dropped.
    `labels` (codebook order) picks each label's colour from `LABEL_COLOURS`.
    """
    colours = {label: label_colour(label, labels) for label in labels}
    parts: list[str] = []
    position = 0
    for start, end, label, weight in sorted(spans):
        if start < position or end <= start or end > len(text):
            continue
        colour = colours.get(label, FALLBACK_COLOUR)
        parts.append(html.escape(text[position:start]))
        parts.append(
            f'<mark class="pmc-evidence" style="background:{colour}" '
            f'title="{html.escape(f"{label} {weight:+.2f}", quote=True)}">{html.escape(text[start:end])}</mark>'
        )
        position = end
    parts.append(html.escape(text[position:]))
    return "".join(parts)
