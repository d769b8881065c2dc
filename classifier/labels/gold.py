"""Labelled paragraphs: the gold JSONL format, its validation and its consistency checks.

`labels/gold.jsonl` is the git-versioned truth: one JSON object per line with `id`, `doc`,
`index`, `lang`, `text`, `labels`, `annotator`, `source` (`seed` or `codebook`), optional
`note` and `group` (near-duplicate group for evaluation splits), other fields carried through.
`load_labelled()` validates every line against the codebook and raises with file and line;
`check_gold()` collects every problem of the file at once (unknown labels, duplicate ids,
missing or stale seed paragraphs, codebook examples out of sync) with label counts per
language, as data for `pmc labels check`. `codebook_records()` turns the codebook's example
paragraphs into gold records, so they count as labelled data.
"""

from __future__ import annotations

import hashlib

import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, LabelDataError, TaxonomyError
from ..paths import PROJECT_ROOT, file_mode, fsync_directory, sweep_stale
from ..text.language import normalize_lang
from ..text.paragraph import paragraph_id
from ..text.reader import RecordError, json_lines, read_document
from ..text.segmenter import segment
from .leaks import find_leaks
from .taxonomy import Taxonomy, load_taxonomy

__all__ = [
    "LabelledParagraph",
    "GoldReport",
    "SOURCES",
    "PROVENANCE",
    "load_labelled",
    "read_labelled",
    "parse_labelled_record",
    "write_labelled",
    "codebook_records",
    "seed_paragraphs",
    "check_gold",
    "replace_codebook_records",
    "default_gold_path",
    "default_seeds_dir",
    "default_heldout_path",
    "read_reference",
]

SOURCES = ("seed", "codebook", "real", "annotation", "review", "import")
_CORE = ("id", "doc", "index", "lang", "text", "labels", "annotator", "source", "note", "group")


@dataclass(frozen=True)
class LabelledParagraph:
    """A paragraph with its gold label set (empty tuple = none of the categories)."""

    id: str
    doc: str
    index: int
    lang: str
    text: str
    labels: tuple[str, ...]
    annotator: str = ""
    source: str = "seed"
    note: str = ""
    group: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def split_group(self) -> str:
        """What evaluation keeps on one side of a split: the duplicate group, else the document."""
        return self.group or f"doc:{self.doc}"

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": self.id, "doc": self.doc, "index": self.index, "lang": self.lang,
            "text": self.text, "labels": list(self.labels), "annotator": self.annotator,
            "source": self.source,
        }
        if self.note:
            record["note"] = self.note
        if self.group:
            record["group"] = self.group
        for key, value in self.extra.items():
            record.setdefault(key, value)
        return record


def data_fingerprint(rows: Sequence[LabelledParagraph]) -> str:
    """SHA-256 over (id, labels) of labelled rows, order-independent: what a model was trained on."""
    digest = hashlib.sha256()
    for item in sorted(f"{r.id}\t{','.join(r.labels)}" for r in rows):
        digest.update(item.encode("utf-8") + b"\n")
    return digest.hexdigest()[:16]


def default_gold_path() -> Path:
    return PROJECT_ROOT / "labels" / "gold.jsonl"


def default_seeds_dir() -> Path:
    return PROJECT_ROOT / "seeds"


def default_unlabelled_path() -> Path:
    """Real paraphrased documents shipped without labels: a new team's first day of work."""
    return PROJECT_ROOT / "labels" / "unlabelled.jsonl"


def parse_labelled_record(
    record: dict[str, Any], *, taxonomy: Taxonomy, where: str, require_meta: bool = True
) -> LabelledParagraph:
    """Validate one labelled record (a parsed JSON object); `where` is "file:line" for errors."""
    if not isinstance(record, dict):
        raise LabelDataError(f"{where}: expected a JSON object, found {type(record).__name__}")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise LabelDataError(f"{where}: missing or empty 'text'; every record needs the paragraph text")
    if "labels" not in record:
        raise LabelDataError(f"{where}: missing 'labels'; give a list of label ids, [] for none")
    try:
        labels = taxonomy.validate_labels(record["labels"], where=where)
    except TaxonomyError as exc:
        raise LabelDataError(str(exc)) from None
    lang = record.get("lang") or ""
    if lang:
        try:
            lang = normalize_lang(str(lang))
        except ValueError as exc:
            raise LabelDataError(f"{where}: {exc}") from None
    source = str(record.get("source") or ("seed" if require_meta else "import"))
    if source not in SOURCES:
        raise LabelDataError(f"{where}: 'source' is {source!r}; expected one of {', '.join(SOURCES)}")
    index = record.get("index", 0)
    if not isinstance(index, int) or isinstance(index, bool):
        raise LabelDataError(f"{where}: 'index' must be an integer, found {index!r}")
    return LabelledParagraph(
        id=str(record.get("id") or paragraph_id(text)),
        doc=str(record.get("doc") or ""),
        index=index,
        lang=lang,
        text=text,
        labels=labels,
        annotator=str(record.get("annotator") or ""),
        source=source,
        note=str(record.get("note") or ""),
        group=str(record.get("group") or ""),
        extra={k: v for k, v in record.items() if k not in _CORE},
    )


def read_labelled(
    path: str | Path, *, taxonomy: Taxonomy | None = None, on_error: Callable[[str], None]
) -> list[LabelledParagraph]:
    """The usable records of a labelled JSONL file; each unusable line is reported through
    `on_error` (`file:line: what; fix`) and skipped. The file itself must be readable."""
    path = Path(path)
    taxonomy = taxonomy or load_taxonomy()
    rows: list[LabelledParagraph] = []
    try:
        entries = list(json_lines(path))
    except InputError as exc:
        raise LabelDataError(str(exc)) from None
    for entry in entries:
        if isinstance(entry, RecordError):
            on_error(str(entry))
            continue
        try:
            rows.append(parse_labelled_record(entry[1], taxonomy=taxonomy, where=f"{path}:{entry[0]}"))
        except LabelDataError as exc:
            on_error(str(exc))
    return rows


def load_labelled(
    path: str | Path | None = None, *, taxonomy: Taxonomy | None = None
) -> list[LabelledParagraph]:
    """Read and validate a labelled JSONL file; the first bad line raises `LabelDataError`."""
    path = Path(path or default_gold_path())
    taxonomy = taxonomy or load_taxonomy()
    rows: list[LabelledParagraph] = []
    for where, record in _iter_json_lines(path):
        rows.append(parse_labelled_record(record, taxonomy=taxonomy, where=where))
    if not rows:
        raise LabelDataError(f"{path}: no labelled records; add JSON lines with 'text' and 'labels'")
    return rows


def _iter_json_lines(path: Path) -> Iterable[tuple[str, Any]]:
    """(`file:line`, value) per line; the first unusable line raises `LabelDataError`."""
    try:
        for entry in json_lines(path):
            if isinstance(entry, RecordError):
                raise LabelDataError(str(entry))
            yield f"{path}:{entry[0]}", entry[1]
    except InputError as exc:
        raise LabelDataError(str(exc)) from None


def write_labelled(rows: Iterable[LabelledParagraph], path: str | Path) -> int:
    """Write labelled records as JSONL atomically (temp file, then rename); returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(path.parent, (f".{path.name}.*.tmp",))
    count = 0
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            for row in rows:
                out.write(json.dumps(row.to_record(), ensure_ascii=False) + "\n")
                count += 1
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, file_mode(path))
        os.replace(tmp, path)
        fsync_directory(path.parent)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise LabelDataError(f"{path}: cannot write the file ({exc.strerror}); free disk space or write elsewhere; "
                             f"the previous file is unchanged") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def codebook_records(taxonomy: Taxonomy | None = None) -> list[LabelledParagraph]:
    """The codebook's example paragraphs as gold records (`source: codebook`)."""
    taxonomy = taxonomy or load_taxonomy()
    rows = []
    counters: Counter[str] = Counter()
    for example in taxonomy.examples:
        # Each example is its own small document, so evaluation splits never have to keep a
        # whole category's examples together; translations share `group` instead.
        section = example.category or "none"
        counters[section] += 1
        rows.append(
            LabelledParagraph(
                id=paragraph_id(example.text),
                doc=f"codebook/{section}/{example.lang}/{counters[section]}",
                index=0,
                lang=example.lang,
                text=example.text,
                labels=example.labels,
                annotator="codebook",
                source="codebook",
                note=f"{example.kind}: {example.note}" if example.note else example.kind,
                group=example.group and f"codebook-{example.group}",
            )
        )
    return rows


def seed_paragraphs(seeds_dir: str | Path | None = None) -> list:
    """Segment every seed document (sorted by file name) into paragraphs."""
    seeds_dir = Path(seeds_dir or default_seeds_dir())
    paragraphs = []
    for path in sorted(seeds_dir.glob("*.txt")):
        paragraphs.extend(segment(read_document(path)))
    return paragraphs


@dataclass
class GoldReport:
    """Everything `pmc labels check` reports; `ok` is False when any problem was found."""

    path: str
    records: int = 0
    problems: list[str] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # lang -> label -> n
    by_source: dict[str, int] = field(default_factory=dict)
    checked_against: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "records": self.records, "ok": self.ok,
            "problems": self.problems, "counts": self.counts, "by_source": self.by_source,
            "checked_against": self.checked_against,
        }


def default_heldout_path() -> Path:
    """The shared development set beside the project checkout (`../shared/devset/dev.jsonl`)."""
    return PROJECT_ROOT.parent / "shared" / "devset" / "dev.jsonl"


def read_reference(path: str | Path) -> list[dict[str, Any]]:
    """The records of a labelled or unlabelled JSONL file, for leak checks (text required)."""
    records = []
    for where, record in _iter_json_lines(Path(path)):
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise LabelDataError(f"{where}: expected a JSON object with a 'text' field; fix or delete the line")
        records.append(record)
    return records


# What every real row says about where it comes from (`date` too, when the page shows one).
PROVENANCE = ("source_url", "title", "publisher")


def check_gold(
    path: str | Path | None = None,
    *,
    seeds_dir: str | Path | None = None,
    taxonomy: Taxonomy | None = None,
    against: Sequence[str | Path] = (),
) -> GoldReport:
    """Check a gold file against the codebook and the seeds, collecting every problem.

    `against`: held-out files (e.g. the development set) that no row may leak: same page, same
    story or near-copy (`leaks.find_leaks`); each leaking row is a problem.
    """
    path = Path(path or default_gold_path())
    taxonomy = taxonomy or load_taxonomy()
    report = GoldReport(path=str(path))
    rows: list[LabelledParagraph] = []
    seen: dict[str, str] = {}
    try:
        for where, record in _iter_json_lines(path):
            try:
                row = parse_labelled_record(record, taxonomy=taxonomy, where=where)
            except LabelDataError as exc:
                report.problems.append(str(exc))
                continue
            if row.id != paragraph_id(row.text):
                report.problems.append(
                    f"{where}: id {row.id!r} is not the hash of its text ({paragraph_id(row.text)!r}); "
                    f"the text was edited — re-run the segmenter or fix the id"
                )
            if row.source == "real":
                missing = [k for k in PROVENANCE if not str(row.extra.get(k) or "").strip()]
                missing += [] if row.lang else ["lang"]
                if missing:
                    report.problems.append(
                        f"{where}: real row without {', '.join(missing)}; record the page's "
                        f"{', '.join(PROVENANCE)} and the paragraph's lang (and the date when the page shows one)"
                    )
            if row.id in seen:
                report.problems.append(f"{where}: duplicate id {row.id!r} (first at {seen[row.id]})")
            else:
                seen[row.id] = where
            rows.append(row)
    except LabelDataError as exc:
        report.problems.append(str(exc))
    report.records = len(rows)

    seed_ids = {p.id: p for p in seed_paragraphs(seeds_dir)}
    gold_seed_ids = {r.id for r in rows if r.source == "seed"}
    for pid, paragraph in seed_ids.items():
        if pid not in gold_seed_ids:
            report.problems.append(
                f"missing seed paragraph {paragraph.doc}:{paragraph.index} ({pid}): "
                f"label it and add it with source 'seed'"
            )
    for row in rows:
        if row.source == "seed" and row.id not in seed_ids:
            report.problems.append(
                f"stale seed record {row.doc}:{row.index} ({row.id}): no seed paragraph has this "
                f"text any more; relabel the new segmentation"
            )
    expected = {(r.id, r.labels) for r in codebook_records(taxonomy)}
    present = {(r.id, r.labels) for r in rows if r.source == "codebook"}
    if expected != present:
        report.problems.append(
            f"codebook examples out of sync with labels/taxonomy.toml ({len(expected - present)} "
            f"missing or changed, {len(present - expected)} stale); run `pmc labels sync-codebook`"
        )

    for reference in against:
        for leak in find_leaks([r.to_record() for r in rows], read_reference(reference)):
            report.problems.append(f"leak into {reference}: {leak}; drop the row (and its page)")
    report.checked_against = [str(p) for p in against]

    counts: dict[str, Counter[str]] = {}
    for row in rows:
        bucket = counts.setdefault(row.lang or "?", Counter())
        bucket["paragraphs"] += 1
        bucket.update(row.labels or ("none",))
    report.counts = {lang: dict(c) for lang, c in sorted(counts.items())}
    report.by_source = dict(Counter(r.source for r in rows))
    return report


def replace_codebook_records(
    rows: Sequence[LabelledParagraph], taxonomy: Taxonomy | None = None
) -> list[LabelledParagraph]:
    """Gold rows with the codebook examples replaced by the codebook's current ones."""
    kept = [r for r in rows if r.source != "codebook"]
    return kept + codebook_records(taxonomy)
