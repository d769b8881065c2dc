"""The codebook: the taxonomy of policy measures as validated, immutable data.

`labels/taxonomy.toml` is the single source of truth for label ids, names, definitions,
bilingual concept terms and the example paragraphs written for the codebook. A concept's English
terms come in two lists: `en`, written with the codebook, and `en_real`, phrasings found later in
the labelled real text (kept apart because they were chosen by reading rows that cross-validation
also scores; `Taxonomy.lexicon_of(real_en=False)` leaves them out, for the ablation). `load_taxonomy()`
parses it once into frozen dataclasses, rejects unknown keys, duplicate ids and empty names with
the file, the key and the fix, and fingerprints the file's content (`Taxonomy.hash`) so a saved
model can refuse a codebook it was not trained with.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import TaxonomyError
from ..paths import PROJECT_ROOT
from ..text.tokenize import Tokenizer
from ..text.concepts import Lexicon

__all__ = [
    "codebook_tokenizer",
    "default_terms",
    "Concept",
    "Example",
    "Category",
    "Taxonomy",
    "load_taxonomy",
    "taxonomy_hash",
    "default_taxonomy_path",
    "EXAMPLE_LANGS",
]

EXAMPLE_LANGS = ("zh", "zh-Hant", "en")
_EXAMPLE_KINDS = ("positive", "near_miss")

_TOP_KEYS = {"taxonomy", "conventions", "none", "category"}
_META_KEYS = {"name", "version", "description"}
_NONE_KEYS = {"definition_en", "definition_zh", "example"}
_CATEGORY_KEYS = {
    "id", "name_en", "name_zh", "definition_en", "definition_zh",
    "include", "exclude", "concept", "example",
}
_CONCEPT_KEYS = {"id", "zh", "en", "en_real"}
_EXAMPLE_KEYS = {"lang", "kind", "text", "labels", "note", "group"}


@dataclass(frozen=True)
class Concept:
    """A bilingual concept: terms in either language that fire one shared feature."""

    id: str
    category: str
    zh: tuple[str, ...]
    en: tuple[str, ...]
    en_real: tuple[str, ...] = ()  # English phrasings of the labelled real text, added after the codebook's

    @property
    def key(self) -> str:
        """Feature name shared across languages, e.g. ``port_inspection/port``."""
        return f"{self.category}/{self.id}"

    @property
    def terms(self) -> tuple[str, ...]:
        return self.zh + self.en + self.en_real


@dataclass(frozen=True)
class Example:
    """A paragraph written for the codebook, with its full (multi-)label set."""

    category: str  # the category whose section holds it; "" for the "none" section
    lang: str
    kind: str  # "positive" or "near_miss"
    text: str
    labels: tuple[str, ...]
    note: str
    group: str


@dataclass(frozen=True)
class Category:
    """One measure of the taxonomy."""

    id: str
    name_en: str
    name_zh: str
    definition_en: str
    definition_zh: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    concepts: tuple[Concept, ...]
    examples: tuple[Example, ...]

    @property
    def terms_zh(self) -> tuple[str, ...]:
        return tuple(t for c in self.concepts for t in c.zh)

    @property
    def terms_en(self) -> tuple[str, ...]:
        return tuple(t for c in self.concepts for t in c.en + c.en_real)


@dataclass(frozen=True)
class Taxonomy:
    """The whole codebook. ``hash`` is the SHA-256 of the file's bytes (first 16 hex digits)."""

    name: str
    version: str
    description: str
    conventions: tuple[str, ...]
    none_definition_en: str
    none_definition_zh: str
    none_examples: tuple[Example, ...]
    categories: tuple[Category, ...]
    hash: str
    path: str

    @property
    def label_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.categories)

    @property
    def concepts(self) -> tuple[Concept, ...]:
        return tuple(k for c in self.categories for k in c.concepts)

    @property
    def lexicon(self) -> Lexicon:
        """The concepts as plain, picklable data: ((``category/concept``, terms), ...)."""
        return self.lexicon_of()

    def lexicon_of(self, *, real_en: bool = True) -> Lexicon:
        """The lexicon, with or without the concepts' `en_real` terms (a concept left with no
        term keeps its column: the feature set does not depend on the choice)."""
        return tuple((c.key, tuple(c.terms if real_en else c.zh + c.en)) for c in self.concepts)

    @property
    def zh_terms(self) -> tuple[str, ...]:
        """Every concept's Chinese terms, in codebook order (the tokenizer's user words)."""
        return tuple(term for concept in self.concepts for term in concept.zh)

    @property
    def examples(self) -> tuple[Example, ...]:
        """Every codebook example, category sections first, then the "none" section."""
        return tuple(e for c in self.categories for e in c.examples) + self.none_examples

    def category(self, label_id: str) -> Category:
        for c in self.categories:
            if c.id == label_id:
                return c
        raise TaxonomyError(
            f"unknown label {label_id!r}: expected one of {', '.join(self.label_ids)}"
        )

    def validate_labels(self, labels: Any, *, where: str) -> tuple[str, ...]:
        """Check a label list against the codebook and return it in codebook order."""
        if not isinstance(labels, (list, tuple)) or not all(isinstance(x, str) for x in labels):
            raise TaxonomyError(
                f"{where}: 'labels' must be a list of label ids, found {labels!r}; "
                f"use [] for none of the five"
            )
        unknown = [x for x in labels if x not in self.label_ids]
        if unknown:
            raise TaxonomyError(
                f"{where}: unknown label {unknown[0]!r}; expected one of "
                f"{', '.join(self.label_ids)} (edit the record or add the label to "
                f"labels/taxonomy.toml)"
            )
        return tuple(x for x in self.label_ids if x in labels)


def default_taxonomy_path() -> Path:
    """`labels/taxonomy.toml` of the project checkout this package lives in."""
    return PROJECT_ROOT / "labels" / "taxonomy.toml"


@lru_cache(maxsize=1)
def default_terms() -> tuple[str, ...]:
    """The codebook's concept zh terms, or () while ``labels/taxonomy.toml`` does not exist."""
    if not default_taxonomy_path().exists():
        return ()
    return load_taxonomy().zh_terms


@lru_cache(maxsize=1)
def codebook_tokenizer() -> Tokenizer:
    """A tokenizer with the codebook's concept zh terms as domain words (tests and tools)."""
    return Tokenizer(default_terms())


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load and validate the codebook (cached per resolved path)."""
    return _load_cached(str(Path(path or default_taxonomy_path()).resolve()))


@lru_cache(maxsize=8)
def _load_cached(path: str) -> Taxonomy:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise TaxonomyError(
            f"{path}: cannot read the codebook ({exc.strerror}); "
            f"check the path or restore labels/taxonomy.toml from git"
        ) from None
    import tomllib  # here: a model's load checks the codebook by its hash, without parsing it

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TaxonomyError(f"{path}: not valid UTF-8 TOML ({exc}); fix the syntax") from None
    return _parse(data, path=path, digest=_digest(raw))


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


def taxonomy_hash(path: str | Path | None = None) -> str | None:
    """`load_taxonomy(path).hash` without parsing the file (None if it cannot be read): what a
    model's load compares with the hash in its card."""
    try:
        return _digest(Path(path or default_taxonomy_path()).read_bytes())
    except OSError:
        return None


def _check_keys(table: dict[str, Any], allowed: set[str], *, path: str, where: str) -> None:
    for key in table:
        if key not in allowed:
            raise TaxonomyError(
                f"{path}: unknown key {key!r} in {where}; allowed keys are "
                f"{', '.join(sorted(allowed))} (fix the spelling or remove it)"
            )


def _text(table: dict[str, Any], key: str, *, path: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise TaxonomyError(
            f"{path}: {where}.{key} is empty or missing; give it a non-empty string"
        )
    return value.strip()


def _strings(table: dict[str, Any], key: str, *, path: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(x, str) and x.strip() for x in value):
        raise TaxonomyError(
            f"{path}: {where}.{key} must be a list of non-empty strings"
        )
    return tuple(x.strip() for x in value)


def _parse(data: dict[str, Any], *, path: str, digest: str) -> Taxonomy:
    _check_keys(data, _TOP_KEYS, path=path, where="the top level")
    meta = data.get("taxonomy", {})
    _check_keys(meta, _META_KEYS, path=path, where="[taxonomy]")
    raw_categories = data.get("category", [])
    if not raw_categories:
        raise TaxonomyError(f"{path}: no [[category]] tables; the codebook needs at least one")

    ids: list[str] = []
    for i, cat in enumerate(raw_categories):
        cid = _text(cat, "id", path=path, where=f"category[{i}]")
        if not cid.replace("_", "").isalnum() or not cid.islower():
            raise TaxonomyError(
                f"{path}: category id {cid!r} must be lower_snake_case ascii"
            )
        if cid in ids:
            raise TaxonomyError(
                f"{path}: duplicate category id {cid!r}; every [[category]] needs its own id"
            )
        ids.append(cid)

    categories = tuple(
        _parse_category(cat, label_ids=tuple(ids), path=path) for cat in raw_categories
    )
    concept_ids: set[str] = set()
    for cat in categories:
        for concept in cat.concepts:
            if concept.key in concept_ids:
                raise TaxonomyError(f"{path}: duplicate concept id {concept.key!r}")
            concept_ids.add(concept.key)

    none = data.get("none", {})
    _check_keys(none, _NONE_KEYS, path=path, where="[none]")
    none_examples = tuple(
        _parse_example(e, category="", label_ids=tuple(ids), path=path, where=f"none.example[{j}]")
        for j, e in enumerate(none.get("example", []))
    )
    conventions = data.get("conventions", {})
    if isinstance(conventions, dict):
        conventions = conventions.get("items", [])
    return Taxonomy(
        name=_text(meta, "name", path=path, where="taxonomy"),
        version=str(meta.get("version", "1")),
        description=str(meta.get("description", "")).strip(),
        conventions=tuple(str(c).strip() for c in conventions),
        none_definition_en=_text(none, "definition_en", path=path, where="none"),
        none_definition_zh=_text(none, "definition_zh", path=path, where="none"),
        none_examples=none_examples,
        categories=categories,
        hash=digest,
        path=path,
    )


def _parse_category(cat: dict[str, Any], *, label_ids: tuple[str, ...], path: str) -> Category:
    cid = cat["id"].strip()
    where = f"category {cid!r}"
    _check_keys(cat, _CATEGORY_KEYS, path=path, where=where)
    concepts = []
    for j, raw in enumerate(cat.get("concept", [])):
        cwhere = f"{where} concept[{j}]"
        _check_keys(raw, _CONCEPT_KEYS, path=path, where=cwhere)
        concept = Concept(
            id=_text(raw, "id", path=path, where=cwhere),
            category=cid,
            zh=_strings(raw, "zh", path=path, where=cwhere),
            en=_strings(raw, "en", path=path, where=cwhere),
            en_real=_strings(raw, "en_real", path=path, where=cwhere),
        )
        if not concept.terms:
            raise TaxonomyError(f"{path}: {cwhere} has no terms; add zh or en terms")
        twice = sorted(set(concept.en) & set(concept.en_real))
        if twice:
            raise TaxonomyError(
                f"{path}: {cwhere} lists {twice[0]!r} in both en and en_real; keep it in one of them"
            )
        concepts.append(concept)
    examples = tuple(
        _parse_example(e, category=cid, label_ids=label_ids, path=path, where=f"{where} example[{j}]")
        for j, e in enumerate(cat.get("example", []))
    )
    return Category(
        id=cid,
        name_en=_text(cat, "name_en", path=path, where=where),
        name_zh=_text(cat, "name_zh", path=path, where=where),
        definition_en=_text(cat, "definition_en", path=path, where=where),
        definition_zh=_text(cat, "definition_zh", path=path, where=where),
        include=_strings(cat, "include", path=path, where=where),
        exclude=_strings(cat, "exclude", path=path, where=where),
        concepts=tuple(concepts),
        examples=examples,
    )


def _parse_example(
    raw: dict[str, Any], *, category: str, label_ids: tuple[str, ...], path: str, where: str
) -> Example:
    _check_keys(raw, _EXAMPLE_KEYS, path=path, where=where)
    lang = _text(raw, "lang", path=path, where=where)
    if lang not in EXAMPLE_LANGS:
        raise TaxonomyError(
            f"{path}: {where}.lang is {lang!r}; expected one of {', '.join(EXAMPLE_LANGS)}"
        )
    kind = str(raw.get("kind", "near_miss" if not category else "positive"))
    if kind not in _EXAMPLE_KINDS:
        raise TaxonomyError(f"{path}: {where}.kind is {kind!r}; expected positive or near_miss")
    labels = raw.get("labels")
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise TaxonomyError(f"{path}: {where}.labels must be a list of label ids ([] for none)")
    unknown = [x for x in labels if x not in label_ids]
    if unknown:
        raise TaxonomyError(
            f"{path}: {where}.labels has unknown id {unknown[0]!r}; expected one of "
            f"{', '.join(label_ids)}"
        )
    if category and (kind == "positive") != (category in labels):
        raise TaxonomyError(
            f"{path}: {where} is a {kind} example of {category!r} but its labels are {labels}; "
            f"a positive example must carry its category and a near miss must not"
        )
    return Example(
        category=category,
        lang=lang,
        kind=kind,
        text=_text(raw, "text", path=path, where=where),
        labels=tuple(x for x in label_ids if x in labels),
        note=str(raw.get("note", "")).strip(),
        group=str(raw.get("group", "")).strip(),
    )
