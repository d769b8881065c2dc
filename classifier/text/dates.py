"""Dates in document text, in Chinese and English, and a document's publication date.

`find_dates()` finds full dates (2024年7月5日, 2024-07-05, "September 11, 2024", "11 September
2024") and day-only ones (7月5日电, "July 7th", "On July 22"), with their character spans.
`publication_date()` picks a document's date: a dateline or date in its opening paragraphs
(a news dateline such as 7月5日电 or "China News Service, July 7th" is the publication day),
else the first full date anywhere. A day-only date takes its year from the document — a
year that names a campaign (Mongoose Hunting-2025, 獴猎-2024) or the most frequent year
written out — and is flagged `inferred`; with no year anywhere, the year stays unknown.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

__all__ = ["FoundDate", "find_dates", "publication_date", "years_in"]

_MONTHS = {name: i for i, name in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"], start=1)}
_MONTHS.update({name[:3]: i for name, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_MONTH = r"(?P<month>January|February|March|April|May|June|July|August|September|October|November|December|" \
         r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"

_PATTERNS: tuple[tuple[re.Pattern[str], bool], ...] = (
    (re.compile(rf"{_YEAR}\s*年\s*(?P<month>1[0-2]|0?[1-9])\s*月\s*(?P<day>[0-3]?\d)\s*[日号]"), True),
    (re.compile(rf"(?<![\d-]){_YEAR}[-/.](?P<month>1[0-2]|0[1-9])[-/.](?P<day>[0-3]\d)(?![\d-])"), True),
    (re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b"), True),
    (re.compile(rf"\b{_DAY}\s+{_MONTH},?\s+{_YEAR}\b"), True),
    (re.compile(r"(?<![\d年])(?P<month>1[0-2]|0?[1-9])\s*月\s*(?P<day>[0-3]?\d)\s*[日号](?P<wire>电)?"), False),
    # Month names are capitalised in running English ("may 20 people" is not a date).
    (re.compile(rf"\b{_MONTH}\s+{_DAY}\b(?!,?\s+(?:19|20)\d\d)"), False),
)
_CAMPAIGN_YEAR = re.compile(r"(?:[\"“「『]?[\w\u4e00-\u9fff]{2,20}[-—–\s]?)((?:19|20)\d\d)(?=[\"”」』]|[”\"]?\s*(?:专项|行动|action|campaign|operation|special))",
                            re.I)
_WRITTEN_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?=\s*年|\b)")
_OUTLET_BEFORE = re.compile(r"[A-Z][\w.]*(?:\s[A-Z][\w.]*){0,4},\s*$")  # "China News Service, " July 7th


@dataclass(frozen=True)
class FoundDate:
    """A date in a text: `year` is None when neither the text nor its document gives one."""

    year: int | None
    month: int
    day: int
    start: int
    end: int
    inferred: bool = False  # the year came from elsewhere in the document
    dateline: bool = False  # a news dateline (7月5日电, "Xinhua, July 7th"): the publication day

    def iso(self) -> str:
        """`YYYY-MM-DD`, or `--MM-DD` when the year is unknown."""
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}" if self.year else f"--{self.month:02d}-{self.day:02d}"


def _valid(year: int | None, month: int, day: int) -> bool:
    try:
        date(year or 2000, month, day)  # 2000 is a leap year: 2月29日 without a year is valid
    except ValueError:
        return False
    return True


def years_in(texts: Sequence[str]) -> int | None:
    """The year a document is about: one that names a campaign, else the most frequent one written."""
    campaign = Counter(int(m.group(1)) for text in texts for m in _CAMPAIGN_YEAR.finditer(text))
    if campaign:
        return campaign.most_common(1)[0][0]
    written = Counter(int(m.group(1)) for text in texts for m in _WRITTEN_YEAR.finditer(text))
    return written.most_common(1)[0][0] if written else None


def find_dates(text: str, *, year: int | None = None) -> list[FoundDate]:
    """Every date in `text`, in order; day-only dates take `year` (flagged `inferred`)."""
    found: list[FoundDate] = []
    taken: list[tuple[int, int]] = []
    for pattern, full in _PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            month_text = m.group("month")
            month = int(month_text) if month_text.isdigit() else _MONTHS[month_text.lower().rstrip(".")]
            day = int(m.group("day"))
            given = int(m.group("year")) if full else None
            if not _valid(given, month, day):
                continue
            before = text[max(0, m.start() - 40):m.start()]
            dateline = bool(m.groupdict().get("wire")) or (
                _OUTLET_BEFORE.search(before) is not None and "\n" not in before[-30:])
            found.append(FoundDate(given if full else year, month, day, m.start(), m.end(),
                                   inferred=not full and year is not None, dateline=dateline))
            taken.append((m.start(), m.end()))
    return sorted(found, key=lambda d: d.start)


def publication_date(paragraphs: Sequence[str], *, opening: int = 3) -> FoundDate | None:
    """The document's date: a dateline or date in its first `opening` paragraphs, else its first
    full date. Day-only dates take the document's year (`years_in`), flagged `inferred`."""
    year = years_in(paragraphs)
    head = [d for text in paragraphs[:opening] for d in find_dates(text, year=year)]
    for found in head:
        if found.dateline:
            return found
    if head:
        return head[0]
    for text in paragraphs[opening:]:
        full = [d for d in find_dates(text, year=year) if not d.inferred and d.year]
        if full:
            return full[0]
    return None
