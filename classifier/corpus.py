"""The corpus: documents in the store, as the Documents page and `pmc ingest` use them.

`upload()`/`ingest_path()` read a file (txt, md, html, docx, pdf, or JSONL paragraphs), segment
it (`text.segmenter`), store the paragraphs and score them with the active model;
`documents()` lists what is stored; `predictions()`, `profiles()` and `download()` give the
active model's records per document (the `pmc classify` record format), the share of
paragraphs per measure with the paragraphs behind each bar, and CSV/JSONL downloads.
"""

from __future__ import annotations

import hashlib
import io
from collections import defaultdict
from dataclasses import replace
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import store as db
from .classify import paragraph_from_record, profile, records_to_string
from .errors import InputError, ModelError
from .scoring.decision import labels_from_scores
from .text.paragraph import Paragraph, paragraph_id
from .text.reader import DEFAULT_MAX_BYTES, RecordError, iter_jsonl, read_document_bytes, read_file_bytes
from .text.segmenter import segment
from .metadata import extract_metadata, merge_metadata
from .store.users import authorize
from .workspace import Workspace

__all__ = ["UPLOAD_SUFFIXES", "DEFAULT_UPLOAD_BYTES", "SPREADSHEET_BOM", "DOWNLOAD_FORMATS", "documents", "upload", "ingest_path",
           "predictions", "profiles", "download"]

UPLOAD_SUFFIXES = (".txt", ".md", ".text", ".html", ".htm", ".docx", ".pdf", ".jsonl")
_PLAIN_TEXT = ""  # a file without an extension is read as text, as `pmc classify` does
DEFAULT_UPLOAD_BYTES = DEFAULT_MAX_BYTES
DOWNLOAD_FORMATS = ("csv", "jsonl")
# Document fields a JSONL record may carry; the first record of a document gives its metadata.
DOCUMENT_FIELDS = ("source_url", "title", "publisher", "date", "campaign")


def documents(ws: Workspace, *, include_codebook: bool = False) -> list[dict[str, Any]]:
    """Stored documents in the order they were added: `doc`, `title`, `paragraphs`, `format`."""
    rows = db.list_documents(ws.store)
    return [
        {"doc": doc, "title": title or first_title or "", "format": fmt, "added_at": added, "paragraphs": n}
        for doc, title, fmt, added, n, first_title in rows
        if include_codebook or not doc.startswith("codebook/")
    ]


def _check_upload(name: str, data: bytes, max_bytes: int) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES and suffix != _PLAIN_TEXT:
        raise InputError(
            f"{name}: unsupported file type {suffix or '(none)'!r}; upload one of "
            f"{', '.join(UPLOAD_SUFFIXES)}"
        )
    if not data:
        raise InputError(f"{name}: the file is empty; upload a document with text in it")
    if len(data) > max_bytes:
        raise InputError(
            f"{name}: file is {_size(len(data))}, over the {_size(max_bytes)} upload limit; split it, "
            f"or convert it to JSONL paragraphs"
        )
    return suffix


def _size(n: int) -> str:
    return f"{n / 1_048_576:.1f} MB" if n >= 1_048_576 else f"{n / 1024:.1f} KB"


def _jsonl_paragraphs(data: bytes, name: str) -> tuple[list[Paragraph], list[str], dict[str, dict[str, Any]]]:
    """Paragraphs, skipped-line messages and document metadata (first record per document wins)."""
    paragraphs, skipped = [], []
    meta: dict[str, dict[str, Any]] = {}
    for entry in iter_jsonl(io.BytesIO(data), source=name):
        if isinstance(entry, RecordError):
            skipped.append(str(entry))
            continue
        line, record = entry
        try:
            p = paragraph_from_record(record, source=name, line=line)
        except InputError as exc:
            skipped.append(str(exc))
            continue
        # The store keys paragraphs by the hash of their text, whatever id the file used.
        paragraphs.append(Paragraph(id=paragraph_id(p.text), doc=p.doc, index=p.index, text=p.text, lang=p.lang,
                                    title=str(record.get("title") or "")))
        if p.doc not in meta:
            meta[p.doc] = {k: record[k] for k in DOCUMENT_FIELDS if isinstance(record.get(k), str) and record[k]}
    return paragraphs, skipped, meta


def upload(ws: Workspace, name: str, data: bytes, *, by: str, max_bytes: int = DEFAULT_UPLOAD_BYTES) -> dict[str, Any]:
    """Read an uploaded file (txt, md, html, docx, pdf, or JSONL paragraphs), segment it, store
    it and classify its paragraphs with the active model (scores go to the queue's cache).

    Raises `InputError` for an unsupported, empty, oversized, binary or undecodable file, or one
    with no paragraphs. Returns `{"docs", "title", "paragraphs", "new", "existing", "scored",
    "skipped"}` (`skipped`: bad JSONL lines, each with file and line).
    """
    authorize(ws.store, by, "admin")
    suffix = _check_upload(name, data, max_bytes)
    skipped: list[str] = []
    warnings: tuple[str, ...] = ()
    if suffix == ".jsonl":
        paragraphs, skipped, meta = _jsonl_paragraphs(data, name)
        if not paragraphs:
            first = f" (first problem: {skipped[0]})" if skipped else ""
            raise InputError(f"{name}: no usable JSONL records{first}; each line needs a JSON object with 'text'")
        docs = list(dict.fromkeys(p.doc for p in paragraphs))
        meta = {doc: merge_metadata(_extracted([p for p in paragraphs if p.doc == doc]), meta.get(doc, {}))
                for doc in docs}
        result = db.ingest_paragraphs(ws.store, paragraphs, meta=meta)
        title = paragraphs[0].title
    else:
        digest = hashlib.sha1(data).hexdigest()
        document = read_document_bytes(data, name=name, max_bytes=max_bytes)
        warnings = document.warnings
        paragraphs = segment(document)
        if not paragraphs:
            raise InputError(f"{name}: no paragraphs found (the file has no text); check that it is the right file")
        doc_id = _document_id(ws, document.id, digest, paragraphs)
        if doc_id != document.id:
            document = replace(document, id=doc_id)
            paragraphs = [replace(p, doc=doc_id) for p in paragraphs]
        extracted = extract_metadata([document.title, *document.text.splitlines()], langs=[p.lang for p in paragraphs])
        meta = merge_metadata(extracted, {**dict(document.meta), "sha1": digest})
        result = db.ingest_document(ws.store, document, paragraphs, meta=meta)
        docs, title = [document.id], document.title or paragraphs[0].title
    saved = ws.model
    scored = len(ws.scores([p.id for p in paragraphs], saved)) if saved else 0
    return {"docs": docs, "title": title, "paragraphs": result["paragraphs"], "new": result["new"],
            "existing": result["existing"], "scored": scored, "skipped": skipped,
            "warnings": list(warnings)}


def _extracted(paragraphs: Sequence[Paragraph]) -> dict[str, Any]:
    title = paragraphs[0].title if paragraphs else ""
    return extract_metadata([title, *(p.text for p in paragraphs)], langs=[p.lang for p in paragraphs])


def _document_id(ws: Workspace, stem: str, digest: str, paragraphs: Sequence[Paragraph]) -> str:
    """The file name's stem, unless another document (other content) already has it: then the stem
    and the start of the content hash. The same file ingested again keeps its id (idempotent)."""
    known = db.document_meta(ws.store, [stem]).get(stem)
    if known is None or known.get("sha1") == digest:
        return stem
    if known.get("sha1") is None:  # stored before content hashes were kept: compare the paragraphs
        stored = [row[2] for row in db.document_rows(ws.store, [stem])]
        if stored == [p.id for p in paragraphs]:
            return stem
    return f"{stem}~{digest[:8]}"


def ingest_path(ws: Workspace, path: str | Path, *, by: str, max_bytes: int = DEFAULT_UPLOAD_BYTES) -> dict[str, Any]:
    """`upload()` for a file on disk (the `pmc ingest` command)."""
    return upload(ws, str(path), read_file_bytes(path, max_bytes=max_bytes), by=by, max_bytes=max_bytes)


def predictions(ws: Workspace, doc_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The active model's records for every paragraph of the documents, in document order:
    `id`, `doc`, `index`, `lang`, `text`, `labels`, `scores`, `title` (as `pmc classify`), and the
    document's `date`, `publisher`, `campaigns`, `source_url`."""
    saved = ws.model
    if saved is None:
        raise ModelError("no active model; train one on the Model page (or `pmc train`) first")
    rows = db.document_rows(ws.store, doc_ids)
    scores = ws.scores([row[2] for row in rows], saved)
    thresholds = saved.thresholds()
    labels = saved.labels
    metas = db.document_meta(ws.store, doc_ids)
    records = []
    for doc, index, pid, text, lang, title, _ in rows:
        p = scores[pid]
        meta = metas.get(doc, {})
        records.append({
            "id": pid, "doc": doc, "index": index, "lang": lang, "text": text,
            "labels": labels_from_scores(labels, p, thresholds),
            "scores": {label: round(float(p[label]), 4) for label in labels},
            "title": title, **_meta_fields(meta),
        })
    return records


META_FIELDS = ("date", "publisher", "campaigns", "source_url")  # a document's metadata in every record exported


def _meta_fields(meta: dict[str, Any]) -> dict[str, str]:
    campaigns = ";".join(c["id"] + (f"-{c['year']}" if c.get("year") else "")
                         for c in meta.get("campaigns", []) if isinstance(c, dict))
    return {"date": str(meta.get("date", "")), "publisher": str(meta.get("publisher", "")), "campaigns": campaigns,
            "source_url": str(meta.get("source_url", ""))}


def profiles(ws: Workspace, doc_ids: Sequence[str]) -> dict[str, Any]:
    """Share of paragraphs per measure per document, with the paragraphs behind each bar.

    Returns `{"labels", "documents": {doc: {"title", "n", "shares": {label|"none": share},
    "paragraphs": {label|"none": [{"index", "text", "p"}]}}}}` (`p`: the label's probability).
    """
    records = predictions(ws, doc_ids)
    labels = ws.model.labels if ws.model else ws.store.taxonomy.label_ids
    shares = profile(records, labels)
    behind: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: {k: [] for k in (*labels, "none")})
    titles: dict[str, str] = {}
    for record in records:
        titles.setdefault(record["doc"], record["title"])
        for label in record["labels"] or ["none"]:
            p = record["scores"].get(label) if label != "none" else max(record["scores"].values(), default=0.0)
            behind[record["doc"]][label].append({"index": record["index"], "text": record["text"], "p": p})
    out = {}
    for doc in dict.fromkeys(doc_ids):
        if doc not in shares:
            continue
        n = shares[doc].pop("n")
        out[doc] = {"title": titles.get(doc, ""), "n": n, "shares": shares[doc], "paragraphs": behind[doc]}
    return {"labels": list(labels), "documents": out}


SPREADSHEET_BOM = "\ufeff"  # a UTF-8 byte-order mark: Excel (e.g. on Chinese Windows) then reads CSV as UTF-8


def download(ws: Workspace, doc_ids: Sequence[str], fmt: str) -> str:
    """The documents' predictions as CSV or JSONL text (the `pmc classify` record format).

    CSV starts with a UTF-8 byte-order mark, so a spreadsheet shows the Chinese text as text.
    """
    if fmt not in DOWNLOAD_FORMATS:
        raise InputError(f"unknown download format {fmt!r}; use one of {', '.join(DOWNLOAD_FORMATS)}")
    records = predictions(ws, doc_ids)
    labels = ws.model.labels if ws.model else ws.store.taxonomy.label_ids
    text = records_to_string(records, fmt, labels, extra=META_FIELDS)
    return SPREADSHEET_BOM + text if fmt == "csv" else text
