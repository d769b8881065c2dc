"""Classification records: inputs to paragraphs, paragraphs to scored records, records to files.

`iter_paragraphs()` turns any mix of document files and JSONL paragraph files into a stream of
`Paragraph`s, reporting unusable files and lines through a callback instead of stopping.
`classify_stream()` scores that stream paragraph by paragraph through the serving model's
sparse rows (`score_paragraphs`) and yields one record per paragraph: `id`, `doc`, `index`,
`lang`, `text`, `labels`, `scores`; the app and `pmc profile` use it, and it is the reference the
batch path of `pmc classify` (`classifier.pipeline`) is tested against. Each paragraph is folded
once (`text.normalize.fold`); the folded text gives both its features and, for a JSONL record
without `lang`, its language. The record rules (`record_fields`), the JSONL line
(`jsonl_line`, orjson) and `RecordWriter` (JSONL, CSV or TSV, flushed after every batch so a
crash never loses what was already written) are shared by both paths.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import IO, Any

import numpy as np

from .errors import InputError

try:  # a core dependency; the standard library's encoder is the fallback
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None  # type: ignore[assignment]
from .paths import file_mode, fsync_directory, is_special_file, sweep_stale
from .text.language import detect_language
from .text.normalize import fold
from .text.paragraph import Paragraph, paragraph_id
from .text.reader import RecordError, iter_jsonl, read_document, read_document_bytes, read_stream_bytes

__all__ = [
    "OUTPUT_FORMATS",
    "iter_paragraphs",
    "paragraph_from_record",
    "record_fields",
    "score_paragraphs",
    "classify_stream",
    "RecordWriter",
    "jsonl_line",
    "render_records",
    "open_output",
    "csv_cell",
]

OUTPUT_FORMATS = ("jsonl", "csv", "tsv")
BATCH_SIZE = 1024
_RECORD_FIELDS = frozenset(("id", "doc", "index", "text", "lang"))

ErrorSink = Callable[[str], None]



def _segment(document: Any) -> Iterator[Paragraph]:
    from .text.segmenter import segment  # its regexes are compiled only when a document is read

    return segment(document)


def paragraph_from_record(record: dict[str, Any], *, source: str, line: int, detect: bool = True,
                          default_doc: str | None = None) -> Paragraph:
    """A JSONL record as a paragraph: `text` and optional `id`/`doc`/`index`/`lang` kept as given.

    `detect=False` leaves a missing `lang` empty, for a caller that detects it from the folded
    text it computes anyway (`score_paragraphs`). `default_doc`: ``Path(source).stem``, when the
    caller has it already.
    """
    pid, doc, index, text, lang, extra = record_fields(record, source=source, line=line, default_doc=default_doc)
    return Paragraph(id=pid, doc=doc, index=index, text=text,
                     lang=lang or (detect_language(text) if detect else ""), extra=extra)


def record_fields(record: dict[str, Any], *, source: str, line: int,
                  default_doc: str | None = None) -> tuple[str, str, int, str, str, dict[str, Any]]:
    """`paragraph_from_record`'s fields of a record — id, doc, index, text, lang (empty when
    missing), extra — without building the paragraph (the batch path's per-record work)."""
    text = record["text"]
    extra = {k: v for k, v in record.items() if k not in _RECORD_FIELDS}
    index = record.get("index")
    if isinstance(index, int) and not 0 <= index < 2**31:
        raise InputError(f"{source}:{line}: 'index' is {index}; give a position between 0 and {2**31 - 1}")
    return (
        str(record.get("id") or paragraph_id(text)),
        str(record.get("doc") or default_doc or Path(source).stem),
        index if isinstance(index, int) and not isinstance(index, bool) else line - 1,
        text,
        str(record.get("lang") or ""),
        extra,
    )


def iter_paragraphs(inputs: Iterable[str | Path], *, on_error: ErrorSink,
                    on_warning: ErrorSink | None = None) -> Iterator[Paragraph]:
    """Paragraphs of every input; `-` reads stdin (JSONL if it starts with `{`, else a document).

    A file that cannot be read, or a JSONL line that cannot be used, is reported through
    `on_error` (one line, with file and line number) and skipped.
    """
    for item in inputs:
        name = str(item)
        if name == "-":
            yield from _iter_stdin(on_error)
            continue
        if name.lower().endswith(".jsonl"):
            try:
                for entry in iter_jsonl(name):
                    if isinstance(entry, RecordError):
                        on_error(str(entry))
                        continue
                    try:
                        yield paragraph_from_record(entry[1], source=name, line=entry[0], detect=False)
                    except InputError as exc:
                        on_error(str(exc))
            except InputError as exc:
                on_error(str(exc))
            continue
        try:
            document = read_document(name)
        except InputError as exc:
            on_error(str(exc))
            continue
        for warning in document.warnings:
            (on_warning or on_error)(warning)
        yield from _segment(document)


def _iter_stdin(on_error: ErrorSink) -> Iterator[Paragraph]:
    stream = sys.stdin.buffer
    if not hasattr(stream, "peek"):  # e.g. an in-memory stdin: buffer it to look ahead
        stream = io.BufferedReader(stream)  # type: ignore[arg-type]
    head = stream.peek(64)[:64]
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        for entry in iter_jsonl(stream, source="<stdin>"):
            if isinstance(entry, RecordError):
                on_error(str(entry))
                continue
            try:
                yield paragraph_from_record(entry[1], source="stdin", line=entry[0], detect=False)
            except InputError as exc:
                on_error(str(exc))
        return
    try:
        yield from _segment(read_document_bytes(read_stream_bytes(stream, name="stdin"), name="stdin.txt"))
    except InputError as exc:
        on_error(str(exc))


def _batches(paragraphs: Iterable[Paragraph], size: int) -> Iterator[list[Paragraph]]:
    iterator = iter(paragraphs)
    while batch := list(islice(iterator, size)):
        yield batch


def score_paragraphs(model: Any, labels: tuple[str, ...], batch: list[Paragraph],
                     *, threshold_scale: float = 1.0) -> list[dict[str, Any]]:
    """Scored output records for one batch of paragraphs (each folded once)."""
    folded = [fold(p.text) for p in batch]
    probabilities = model.predict_proba_folded(folded)
    decisions = model.decide(probabilities, threshold_scale=threshold_scale)
    records = []
    for paragraph, folded_text, probs, chosen in zip(batch, folded, probabilities, decisions):
        record = {
            "id": paragraph.id, "doc": paragraph.doc, "index": paragraph.index,
            "lang": paragraph.lang or detect_language(paragraph.text, folded=folded_text), "text": paragraph.text,
            "labels": [label for label, on in zip(labels, chosen) if on],
            "scores": {label: round(float(p), 4) for label, p in zip(labels, probs)},
        }
        for key, value in paragraph.extra.items():
            record.setdefault(key, value)
        records.append(record)
    return records


# -- worker processes ------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _worker_init(model_dir: str, registry: str | None, threshold_scale: float) -> None:
    from .scoring.registry import load_serving

    saved = load_serving(model_dir, registry=Path(registry) if registry else None)
    _WORKER.update(model=saved.model, labels=tuple(saved.card["labels"]), scale=threshold_scale)


def _worker_score(batch: list[Paragraph]) -> list[dict[str, Any]]:
    return score_paragraphs(_WORKER["model"], _WORKER["labels"], batch, threshold_scale=_WORKER["scale"])


def classify_stream(
    paragraphs: Iterable[Paragraph],
    *,
    model: Any,
    labels: tuple[str, ...],
    threshold_scale: float = 1.0,
    jobs: int = 1,
    model_dir: Path | None = None,
    registry: Path | None = None,
    batch_size: int = BATCH_SIZE,
) -> Iterator[list[dict[str, Any]]]:
    """Yield scored records batch by batch, in input order; `jobs > 1` uses worker processes."""
    if jobs <= 1 or model_dir is None:
        for batch in _batches(paragraphs, batch_size):
            yield score_paragraphs(model, labels, batch, threshold_scale=threshold_scale)
        return
    import multiprocessing as mp

    context = mp.get_context("fork" if sys.platform != "win32" else "spawn")
    with context.Pool(
        jobs, initializer=_worker_init,
        initargs=(str(model_dir), str(registry) if registry else None, threshold_scale),
    ) as pool:
        # imap keeps order and holds at most a few batches per worker in memory.
        yield from pool.imap(_worker_score, _batches(paragraphs, batch_size), chunksize=1)


@contextmanager
def open_output(path: Path, *, inputs: Iterable[str | Path] = ()) -> Iterator[IO[str]]:
    """A text file to write results to, safely: refused when it is a folder, sits in a missing
    folder or is one of the `inputs`; written to a temporary file beside it and renamed into
    place only when the block ends normally, so a crash or a kill never leaves half a file and
    never touches an existing one. A device or a pipe (``-o /dev/null``, a FIFO) is written in
    place: renaming over it would replace the device with a regular file."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a file name for --output (e.g. {path / 'predictions.jsonl'})")
    if not path.parent.is_dir():
        raise InputError(f"{path}: the folder {path.parent} does not exist; create it or write elsewhere")
    target = path.resolve()
    for item in inputs:
        if str(item) != "-" and Path(item).resolve() == target:
            raise InputError(f"{path}: is also an input; write the output to another file")
    if is_special_file(path):
        try:
            handle = open(path, "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise InputError(f"{path}: cannot write the output ({exc.strerror}); check the path") from None
        with handle:
            yield handle
        return
    sweep_stale(path.parent, (f".{path.name}.*.tmp",))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, file_mode(path))
        os.replace(tmp, path)
        fsync_directory(path.parent)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write the output ({exc.strerror}); check the disk and the folder") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def csv_cell(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text: a leading =, +, -, @, tab or CR gets a ' in
    front (OWASP's advice against formula injection); other values pass unchanged."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def jsonl_line(record: dict[str, Any]) -> bytes:
    """One output record as a JSONL line: compact UTF-8 JSON (orjson), then a line break."""
    if _orjson is not None:
        try:
            return _orjson.dumps(record, option=_orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # e.g. an integer beyond 64 bits carried through from the input
            pass
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


class RecordWriter:
    """Writes output records as JSONL, CSV or TSV, flushing after every batch."""

    def __init__(self, handle: IO[str], fmt: str, labels: tuple[str, ...], *, extra: tuple[str, ...] = (),
                 header: bool = True) -> None:
        """`extra`: more record fields (e.g. a document's date, publisher) as CSV/TSV columns before `text`;
        `header=False` leaves out the CSV/TSV header row (for a batch rendered to be appended)."""
        if fmt not in OUTPUT_FORMATS:
            raise InputError(f"unknown output format {fmt!r}; use one of {', '.join(OUTPUT_FORMATS)}")
        self.handle = handle
        self.fmt = fmt
        self.labels = labels
        self.count = 0
        self.extra = extra
        self._csv: Any = None
        if fmt in ("csv", "tsv"):
            self._csv = csv.writer(handle, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
            if header:
                self._csv.writerow(["id", "doc", "index", "lang", "labels",
                                    *[f"score_{label}" for label in labels], *extra, "text"])

    def write_batch(self, records: list[dict[str, Any]]) -> None:
        if self._csv is None:
            self.handle.write(b"".join(map(jsonl_line, records)).decode("utf-8"))
        for record in records if self._csv is not None else ():
            text = record["text"] if self.fmt == "csv" else " ".join(record["text"].split())
            self._csv.writerow([csv_cell(x) for x in (
                record["id"], record["doc"], record["index"], record["lang"], ";".join(record["labels"]),
                *[f"{record['scores'][label]:.4f}" for label in self.labels],
                *[record.get(field, "") for field in self.extra], text,
            )])
        self.count += len(records)
        self.handle.flush()

    def write_rendered(self, data: bytes, count: int) -> None:
        """Append `count` records already rendered in this writer's format (`pipeline.classify_chunk`)."""
        buffer = getattr(self.handle, "buffer", None)
        if buffer is not None:
            self.handle.flush()
            buffer.write(data)
            buffer.flush()
        else:
            self.handle.write(data.decode("utf-8"))
            self.handle.flush()
        self.count += count


def render_records(records: list[dict[str, Any]], fmt: str, labels: tuple[str, ...]) -> bytes:
    """Records rendered in an output format without a header, as UTF-8 bytes (a batch to append)."""
    if fmt == "jsonl":
        return b"".join(map(jsonl_line, records))
    buffer = io.StringIO()
    RecordWriter(buffer, fmt, labels, header=False).write_batch(records)
    return buffer.getvalue().encode("utf-8")


def records_to_string(records: list[dict[str, Any]], fmt: str, labels: tuple[str, ...],
                      *, extra: tuple[str, ...] = ()) -> str:
    """All records rendered in one format (for downloads in the app)."""
    buffer = io.StringIO()
    RecordWriter(buffer, fmt, labels, extra=extra).write_batch(records)
    return buffer.getvalue()


def profile(records: Iterable[dict[str, Any]], labels: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Share of paragraphs per measure, per document: ``{doc: {label: share, "none": share, "n": n}}``."""
    counts: dict[str, np.ndarray] = {}
    for record in records:
        row = counts.setdefault(record["doc"], np.zeros(len(labels) + 2))
        for label in record["labels"]:
            row[labels.index(label)] += 1
        if not record["labels"]:
            row[len(labels)] += 1
        row[-1] += 1
    out = {}
    for doc, row in counts.items():
        n = row[-1]
        shares = {label: float(row[i] / n) for i, label in enumerate(labels)}
        shares["none"] = float(row[len(labels)] / n)
        shares["n"] = int(n)
        out[doc] = shares
    return out
