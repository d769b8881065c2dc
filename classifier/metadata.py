"""A document's metadata for analysts: date, publisher, language and the campaigns it names.

`extract_metadata()` reads a document's text (its lines, chrome included: a source line such as
"China.org.cn, September 11, 2024" is metadata) and its paragraphs: the publication date
(`text.dates.publication_date`; a day-only date takes the document's year and is flagged
`date_inferred`), the publisher (`labels/publishers.toml`: the first one its opening names),
the language (the most common among its paragraphs) and the campaigns it names
(`labels/campaigns.toml`, with the year written next to a name). A record's own fields
(`date`, `publisher`, `campaign` in a JSONL input, or an HTML page's metadata) win over what is
extracted: `merge_metadata(extracted, given)`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from .labels.catalogue import Catalogue, load_catalogue
from .text.dates import publication_date

__all__ = ["extract_metadata", "merge_metadata", "OPENING_LINES"]

OPENING_LINES = 8  # the lines that carry a title, a dateline or a source line


def extract_metadata(
    lines: Sequence[str], *, langs: Sequence[str] = (), catalogue: Catalogue | None = None
) -> dict[str, Any]:
    """`{date, date_inferred, publisher, lang, campaigns: [{id, year}], extracted: [...]}`; a key
    is left out when nothing was found. `extracted` lists the keys that came from the text."""
    catalogue = catalogue or load_catalogue()
    lines = [line.strip() for line in lines if line.strip()]
    meta: dict[str, Any] = {}
    found = publication_date(lines, opening=OPENING_LINES)
    if found is not None:
        meta["date"] = found.iso()
        if found.inferred:
            meta["date_inferred"] = True
    for line in lines[:OPENING_LINES]:
        publisher = catalogue.publisher_in(line)
        if publisher is not None:
            meta["publisher"] = catalogue.publisher(publisher).name
            break
    if langs:
        meta["lang"] = Counter(langs).most_common(1)[0][0]
    mentions: dict[str, int | None] = {}
    for line in lines:
        for mention in catalogue.campaigns_in(line):
            if mentions.get(mention.campaign) is None:
                mentions[mention.campaign] = mention.year
    if mentions:
        meta["campaigns"] = [{"id": cid, "year": year} for cid, year in mentions.items()]
    meta["extracted"] = [key for key in ("date", "publisher", "lang", "campaigns") if key in meta]
    return meta


def merge_metadata(extracted: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The document's metadata: `given` fields (a JSONL record's, an HTML page's, an editor's) win."""
    out = dict(extracted)
    for key, value in given.items():
        if value in (None, "", [], {}):
            continue
        out[key] = value
        if key == "date":
            out.pop("date_inferred", None)
        if key in out.get("extracted", []):
            out["extracted"] = [k for k in out["extracted"] if k != key]
    if isinstance(out.get("campaign"), str):  # a record names one campaign: keep it as the list
        out.setdefault("campaigns", [{"id": out["campaign"], "year": None}])
    return out
