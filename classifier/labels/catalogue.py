"""The catalogues analysts group documents by: named campaigns and publishers, as validated data.

`labels/campaigns.toml` lists campaigns (獴猎/Mongoose, 百日行动/Hundred Days, 昆仑/Kunlun, …)
with their spellings in both languages; `labels/publishers.toml` lists agencies and outlets.
`load_catalogue()` reads and checks both (ids unique, every alias non-empty and claimed by one
entry); `Catalogue.campaigns_in(text)` names the campaigns a text mentions, with the year
written next to a name (獴猎-2024, "Mongoose Hunting-2025", 2023年“獴猎”); `publisher_in(text)`
the first publisher a text names. Matching folds text once (`text.normalize.search_key`:
case, width, Traditional → Simplified), and Latin aliases match whole words only.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import TaxonomyError
from ..paths import PROJECT_ROOT
from ..text.normalize import search_key

__all__ = ["Campaign", "Publisher", "Catalogue", "CampaignMention", "load_catalogue"]


@dataclass(frozen=True)
class Campaign:
    id: str
    name_en: str
    name_zh: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Publisher:
    id: str
    name: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class CampaignMention:
    """A campaign named in a text; `year` when the text writes one next to the name."""

    campaign: str
    year: int | None
    start: int  # in the folded text
    end: int


def _pattern(aliases: list[tuple[str, str]]) -> re.Pattern[str]:
    parts = []
    for alias, key in sorted(aliases, key=lambda pair: -len(pair[1])):
        body = re.escape(key).replace(r"\ ", r"[\s-]+").replace(r"\-", r"[\s-]+")
        parts.append(rf"(?<![0-9a-z]){body}s?(?![0-9a-z])" if key.isascii() else body)  # "campaigns" too
    return re.compile("|".join(f"({p})" for p in parts))


_YEAR_AFTER = re.compile(r"^[\"'”’」』]?\s*[-—–]?\s*((?:19|20)\d\d)(?!\d)")
_YEAR_BEFORE = re.compile(r"((?:19|20)\d\d)\s*年?\s*(?:度)?\s*[\"'“‘「『]?\s*$")


class Catalogue:
    """Campaigns and publishers, with their matchers built once."""

    def __init__(self, campaigns: tuple[Campaign, ...], publishers: tuple[Publisher, ...]) -> None:
        self.campaigns = campaigns
        self.publishers = publishers
        self._campaign_of: list[str] = []
        pairs = []
        for campaign in campaigns:
            for alias in campaign.aliases:
                pairs.append((alias, search_key(alias).strip()))
        ordered = sorted(pairs, key=lambda pair: -len(pair[1]))
        self._campaign_of = [next(c.id for c in campaigns if alias in c.aliases) for alias, _ in ordered]
        self._campaigns = _pattern(ordered) if ordered else None
        self._publisher_of: list[str] = []
        pub_pairs = [(alias, search_key(alias).strip()) for p in publishers for alias in p.aliases]
        pub_ordered = sorted(pub_pairs, key=lambda pair: -len(pair[1]))
        self._publisher_of = [next(p.id for p in publishers if alias in p.aliases) for alias, _ in pub_ordered]
        self._publishers = _pattern(pub_ordered) if pub_ordered else None

    def campaign(self, campaign_id: str) -> Campaign:
        return next(c for c in self.campaigns if c.id == campaign_id)

    def publisher(self, publisher_id: str) -> Publisher:
        return next(p for p in self.publishers if p.id == publisher_id)

    def campaigns_in(self, text: str) -> list[CampaignMention]:
        """Every campaign mention in `text`, in order, with the year written next to it."""
        if self._campaigns is None:
            return []
        folded = search_key(text)
        out = []
        for m in self._campaigns.finditer(folded):
            campaign = self._campaign_of[m.lastindex - 1]
            after = _YEAR_AFTER.match(folded[m.end():m.end() + 8])
            before = _YEAR_BEFORE.search(folded[max(0, m.start() - 9):m.start()])
            year = int(after.group(1)) if after else int(before.group(1)) if before else None
            out.append(CampaignMention(campaign, year, m.start(), m.end()))
        return out

    def publisher_in(self, text: str) -> str | None:
        """The id of the first publisher `text` names, or None."""
        if self._publishers is None:
            return None
        m = self._publishers.search(search_key(text))
        return None if m is None else self._publisher_of[m.lastindex - 1]


def _entries(path: Path, key: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TaxonomyError(f"{path}: cannot read the catalogue ({exc.strerror}); restore it from the repository") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TaxonomyError(f"{path}: not valid UTF-8 TOML ({exc}); fix the file") from None
    entries = data.get(key)
    if not isinstance(entries, list) or not entries:
        raise TaxonomyError(f"{path}: no [[{key}]] entries; add at least one")
    seen_ids: set[str] = set()
    seen_aliases: dict[str, str] = {}
    for number, entry in enumerate(entries, start=1):
        where = f"{path}: [[{key}]] #{number}"
        missing = [f for f in (*fields, "aliases") if f not in entry]
        if missing:
            raise TaxonomyError(f"{where} lacks {', '.join(missing)}; every entry needs {', '.join((*fields, 'aliases'))}")
        if entry["id"] in seen_ids:
            raise TaxonomyError(f"{where}: id {entry['id']!r} is used twice; ids must be unique")
        seen_ids.add(entry["id"])
        aliases = entry["aliases"]
        if not isinstance(aliases, list) or not aliases or not all(isinstance(a, str) and a.strip() for a in aliases):
            raise TaxonomyError(f"{where} ({entry['id']}): aliases must be a non-empty list of non-empty strings")
        for alias in aliases:
            key_ = search_key(alias).strip()
            if key_ in seen_aliases and seen_aliases[key_] != entry["id"]:
                raise TaxonomyError(f"{where}: alias {alias!r} also names {seen_aliases[key_]!r}; give it to one entry")
            seen_aliases[key_] = entry["id"]
    return entries


@lru_cache(maxsize=4)
def load_catalogue(folder: str | Path | None = None) -> Catalogue:
    """`labels/campaigns.toml` and `labels/publishers.toml` (of `folder`, default `labels/`)."""
    root = Path(folder) if folder is not None else PROJECT_ROOT / "labels"
    campaigns = tuple(Campaign(e["id"], e["name_en"], e["name_zh"], tuple(e["aliases"]))
                      for e in _entries(root / "campaigns.toml", "campaign", ("id", "name_en", "name_zh")))
    publishers = tuple(Publisher(e["id"], e["name"], tuple(e["aliases"]))
                       for e in _entries(root / "publishers.toml", "publisher", ("id", "name")))
    return Catalogue(campaigns, publishers)
