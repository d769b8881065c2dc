"""The batch pipeline of `pmc classify`: input partitions in, rendered output bytes out.

`plan_partitions()` cuts the inputs into units of work without reading them: byte ranges of
2,048 whole lines of a JSONL file (the file is read for line breaks only, so every range knows
the number of its first line), groups of up to 32 consecutive documents, and stdin as the
chunks `iter_chunks()` makes of it. `partition_chunks()`, where the partition runs, turns one
into `Chunk`s: raw lines (not parsed: that is the batch's work, and a huge line is skipped in
bounded pieces) or the paragraphs of documents, read and segmented there, with each document's
reading warnings on its first chunk. A file that cannot be read becomes a chunk holding only its
message, so messages stay in input order whoever processes the chunks.

`classify_chunks()` is the one batch function: it parses the lines (`text.reader`, orjson),
builds the paragraphs (`classify.record_fields`), folds them once for the whole batch
(`normalize.fold_many`), detects missing languages for the batch (`language.detect_languages`),
scores them (`scoring.batch.BatchScorer`) and renders each chunk's records (`classify.RecordWriter`'s
formats) into bytes of its own, with its bad lines' messages and warnings beside them. Its output
is the reference per-paragraph path's (`classify.score_paragraphs`), record for record.

`run_chunks()` runs it in this process or in `jobs` worker processes: a worker inherits the
model the parent loaded (or loads it once: arrays and JSON, no pickle), receives partitions to
read itself, and leaves the rendered bytes in a spool file whose name it sends back; the results
come back in input order with at most a few items in flight per worker, so memory stays flat and
the parent does little but read and write. While it runs, the garbage collector is quiet
(`_collector_for_batches`). `classifier.cluster` runs the same function on Dask.
"""

from __future__ import annotations

import gc
import io
import os
import sys
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from .classify import record_fields, render_records
from .errors import InputError
from .scoring.batch import BatchScorer
from .text.language import detect_languages
from .text.normalize import fold_many
from .text.tokenize import complete_segmenters
from .text.paragraph import Paragraph
from .text.reader import RecordError, bounded_lines, paragraph_record, parse_json_line

__all__ = ["CHUNK_SIZE", "Chunk", "Rendered", "Classifier", "iter_chunks", "classify_chunk", "classify_chunks",
           "run_chunks", "lines_chunks", "PARTITION_LINES", "DOCUMENTS_PER_PARTITION", "DOCUMENT_PARTITION_BYTES",
           "Partition", "plan_partitions", "partition_chunks", "merge_rendered", "keep_freed_memory"]

CHUNK_SIZE = 2048  # paragraphs (or JSONL lines) per batch

@dataclass(frozen=True)
class Chunk:
    """One batch of input: raw JSONL lines of one source, or paragraphs of documents.

    `source` names the lines in messages (`file:line`); `record_source` is what a record
    without `doc` takes its document name from (``Path(record_source).stem``) and what its own
    messages name; `first_line` is the number of the first line. `messages` are problems found
    while making the chunk (a file that cannot be read), reported when the chunk is;
    `warnings` are a document's reading warnings (bytes replaced, a guessed encoding), on its
    first chunk.
    """

    source: str = ""
    record_source: str = ""
    first_line: int = 1
    lines: tuple[bytes | None, ...] = ()
    paragraphs: tuple[Paragraph, ...] = ()
    messages: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass
class Rendered:
    """A processed chunk: its records rendered in the output format, what was skipped, and
    its documents' reading warnings."""

    data: bytes
    count: int
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# -- making chunks ----------------------------------------------------------------------
def lines_chunks(handle: Any, *, source: str, record_source: str, size: int | None = None,
                 first_line: int = 1) -> Iterator[Chunk]:
    """Chunks of the raw lines of a JSONL byte stream (each line bounded to 1 MB), numbered
    from `first_line`; `size` lines each (default `CHUNK_SIZE`)."""
    size = size or CHUNK_SIZE
    lines = bounded_lines(handle)
    first = first_line
    while batch := tuple(islice(lines, size)):
        yield Chunk(source=source, record_source=record_source, first_line=first, lines=batch)
        first += len(batch)


def iter_chunks(inputs: Iterable[str | Path], *, size: int | None = None) -> Iterator[Chunk]:
    """The chunks of every input; `-` reads stdin (JSONL if it starts with `{`, else a document).

    Mirrors `classify.iter_paragraphs`: JSONL files by their `.jsonl` suffix, anything else as a
    document, read and segmented here; a document's warnings ride on its first chunk.
    """
    size = size or CHUNK_SIZE
    for item in inputs:
        name = str(item)
        if name == "-":
            yield from _stdin_chunks(size)
            continue
        if name.lower().endswith(".jsonl"):
            try:
                handle = open(name, "rb")  # noqa: SIM115 - closed below
            except OSError as exc:
                yield Chunk(messages=(f"{name}: cannot read the file ({exc.strerror}); check the path",))
                continue
            with handle:
                yield from lines_chunks(handle, source=name, record_source=name, size=size)
            continue
        yield from _read_document_chunks(name, name, size)


def _read_document_chunks(path: str, name: str, size: int) -> Iterator[Chunk]:
    """A document file's chunks (read at `path`, called `name`), or one chunk with its message."""
    from .text.reader import read_document

    try:
        document = read_document(path, name=name)
    except InputError as exc:
        yield Chunk(messages=(str(exc),))
        return
    yield from _document_chunks(document, size)


def _document_chunks(document: Any, size: int) -> Iterator[Chunk]:
    """A read document's paragraphs in chunks, its warnings on the first (one chunk at least)."""
    from .text.segmenter import segment

    paragraphs = iter(segment(document))
    warnings = tuple(document.warnings)
    while (batch := tuple(islice(paragraphs, size))) or warnings:
        yield Chunk(paragraphs=batch, warnings=warnings)
        warnings = ()
        if not batch:
            break


def _stdin_chunks(size: int) -> Iterator[Chunk]:
    stream = sys.stdin.buffer
    if not hasattr(stream, "peek"):  # e.g. an in-memory stdin: buffer it to look ahead
        stream = io.BufferedReader(stream)  # type: ignore[arg-type]
    head = stream.peek(64)[:64]
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        yield from lines_chunks(stream, source="<stdin>", record_source="stdin", size=size)
        return
    from .text.reader import read_document_bytes, read_stream_bytes

    try:
        document = read_document_bytes(read_stream_bytes(stream, name="stdin"), name="stdin.txt")
    except InputError as exc:
        yield Chunk(messages=(str(exc),))
        return
    yield from _document_chunks(document, size)


# -- the batch function -------------------------------------------------------------------
class Classifier:
    """What a process needs to classify chunks: the batch scorer, the labels and the output form."""

    def __init__(self, model: Any, labels: tuple[str, ...], *, fmt: str = "jsonl",
                 threshold_scale: float = 1.0) -> None:
        self.scorer = BatchScorer(model)
        self.labels = labels
        self.fmt = fmt
        self.threshold_scale = threshold_scale

    def warm(self) -> None:
        """Build what a large input needs (the jieba-rs segmenter with its whole dictionary,
        OpenCC, the concept automaton), e.g. before forking workers, which then share it."""
        self.scorer.probabilities(fold_many(["口岸边检 border patrol 邊境"]))
        complete_segmenters()

    @classmethod
    def load(cls, model: str | Path | None, *, registry: str | Path | None = None, fmt: str = "jsonl",
             threshold_scale: float = 1.0) -> Classifier:
        """The registry's model (SHA-256 checked, no pickle), ready to classify chunks."""
        from .scoring.registry import load_serving

        saved = load_serving(model, registry=registry)
        return cls(saved.model, tuple(saved.card["labels"]), fmt=fmt, threshold_scale=threshold_scale)


def classify_chunk(chunk: Chunk, classifier: Classifier) -> Rendered:
    """One chunk classified: its records rendered in the output format, bad lines reported."""
    return classify_chunks([chunk], classifier)[0]


def classify_chunks(chunks: Sequence[Chunk], classifier: Classifier) -> list[Rendered]:
    """`classify_chunk` of each chunk, with the paragraphs of all of them scored as one batch
    (a partition of small documents); each chunk's output, messages and warnings stay its own."""
    parsed = [_chunk_fields(chunk) for chunk in chunks]
    records = score_batch([f for fields, _ in parsed for f in fields], classifier)
    out, at = [], 0
    for chunk, (fields, errors) in zip(chunks, parsed):
        mine = records[at:at + len(fields)]
        at += len(fields)
        out.append(Rendered(render_records(mine, classifier.fmt, classifier.labels), len(mine), errors,
                            list(chunk.warnings)))
    return out


def _chunk_fields(chunk: Chunk) -> tuple[list[tuple[str, str, int, str, str, dict[str, Any]]], list[str]]:
    """A chunk's paragraphs as `score_batch` fields, and the messages of its unusable lines."""
    errors = list(chunk.messages)
    fields = [(p.id, p.doc, p.index, p.text, p.lang, p.extra) for p in chunk.paragraphs]
    if chunk.lines:
        source, record_source = chunk.source, chunk.record_source
        default_doc = Path(record_source).stem
        for number, raw in enumerate(chunk.lines, start=chunk.first_line):
            entry = parse_json_line(raw, number, source)
            if entry is None:
                continue
            entry = paragraph_record(entry, source)
            if isinstance(entry, RecordError):
                errors.append(str(entry))
                continue
            try:
                fields.append(record_fields(entry[1], source=record_source, line=number, default_doc=default_doc))
            except InputError as exc:
                errors.append(str(exc))
    return fields, errors


def score_batch(fields: list[tuple[str, str, int, str, str, dict[str, Any]]],
                classifier: Classifier) -> list[dict[str, Any]]:
    """`classify.score_paragraphs` for a whole batch at once (same records, same order); one
    paragraph is (id, doc, index, text, lang or "", extra), as `classify.record_fields` gives."""
    if not fields:
        return []
    texts = [f[3] for f in fields]
    folded = fold_many(texts)
    missing = [i for i, f in enumerate(fields) if not f[4]]
    detected = dict(zip(missing, detect_languages([texts[i] for i in missing], [folded[i] for i in missing])))
    probabilities = classifier.scorer.probabilities(folded)
    decisions = classifier.scorer.decide(probabilities, threshold_scale=classifier.threshold_scale).tolist()
    labels = classifier.labels
    records = []
    for i, ((pid, doc, index, text, lang, extra), probs, chosen) in enumerate(
            zip(fields, probabilities.tolist(), decisions)):
        record = {
            "id": pid, "doc": doc, "index": index, "lang": lang or detected[i], "text": text,
            "labels": [label for label, on in zip(labels, chosen) if on],
            "scores": {label: round(p, 4) for label, p in zip(labels, probs)},
        }
        for key, value in extra.items():
            record.setdefault(key, value)
        records.append(record)
    return records


# -- running it ---------------------------------------------------------------------------
# -- partitions: byte ranges of whole lines of a JSONL file, read where they are classified --
PARTITION_LINES = CHUNK_SIZE  # JSONL lines per partition: one batch, a task of a fraction of a second
# Consecutive documents per partition: up to this many, or this many bytes of files (a few hundred
# paragraphs). One task per small document cost more in handing out than in classifying.
DOCUMENTS_PER_PARTITION = 32
DOCUMENT_PARTITION_BYTES = 512 << 10


@dataclass(frozen=True)
class Partition:
    """A unit of work for one task: a byte range of whole lines of a JSONL file, a document to
    read and segment, or chunks made already (stdin)."""

    index: int
    name: str = ""  # the file as given on the command line (what messages call it)
    path: str = ""  # the same file's absolute path (what a worker opens)
    start: int = 0  # byte offset of the first line
    end: int = 0  # byte offset after the last line
    first_line: int = 1
    chunks: tuple[Chunk, ...] = ()
    documents: tuple[tuple[str, str], ...] = ()  # (name as given, absolute path) of documents to read


def plan_partitions(inputs: Iterable[str], *, lines: int | None = None, workers: int = 1) -> Iterator[Partition]:
    """Partitions of every input, in input order: JSONL files by ranges of `lines` lines
    (default `PARTITION_LINES`; read for line breaks only), consecutive documents in groups
    (read, segmented and scored as one batch where the partition runs), stdin as the chunks
    `iter_chunks` makes of it.
    With `workers > 1`, the last `workers` ranges' worth of a file is cut into ranges of a
    quarter the size, so the workers run out of work together instead of one waiting for the
    other's last range."""
    lines = lines or PARTITION_LINES
    index, documents, size = 0, [], 0
    for name in inputs:
        if name != "-" and name.lower().endswith(".jsonl") and os.path.isfile(name):
            if documents:
                yield Partition(index, documents=tuple(documents))
                index, documents, size = index + 1, [], 0
            for start, end, first in _line_ranges(name, lines, tail=workers if workers > 1 else 0):
                yield Partition(index, name=name, path=os.path.abspath(name), start=start, end=end,
                                first_line=first)
                index += 1
            continue
        if name != "-" and not name.lower().endswith(".jsonl"):
            documents.append((name, os.path.abspath(name)))
            try:
                size += os.path.getsize(name)
            except OSError:
                pass  # the worker reports it
            if len(documents) >= DOCUMENTS_PER_PARTITION or size >= DOCUMENT_PARTITION_BYTES:
                yield Partition(index, documents=tuple(documents))
                index, documents, size = index + 1, [], 0
            continue
        if documents:
            yield Partition(index, documents=tuple(documents))
            index, documents, size = index + 1, [], 0
        for chunk in iter_chunks([name]):
            yield Partition(index, chunks=(chunk,))
            index += 1
    if documents:
        yield Partition(index, documents=tuple(documents))


def _line_ranges(path: str, lines: int, *, tail: int = 0) -> Iterator[tuple[int, int, int]]:
    """(start, end, first line number) of consecutive ranges of `lines` lines of a file; once
    fewer than `tail` ranges' worth of bytes are left (judged by the last range), of `lines // 4`."""
    start, first, seen, offset, size = 0, 1, 0, 0, lines
    with open(path, "rb") as handle:
        total = os.fstat(handle.fileno()).st_size
        while block := handle.read(1 << 22):
            at = 0
            while True:
                room = size - seen
                found = -1
                for _ in range(room):  # walk to the range's last line break within this block
                    found = block.find(b"\n", at)
                    if found < 0:
                        break
                    at = found + 1
                    seen += 1
                if seen < size:
                    break
                end = offset + at
                yield start, end, first
                if tail and size == lines and total - end < tail * (end - start):
                    size = max(1, lines // 4)
                start, first, seen = end, first + seen, 0
            offset += len(block)
    if offset > start:
        yield start, offset, first


def partition_chunks(partition: Partition) -> Iterator[Chunk]:
    """The chunks of a partition: its own, or those of its document or its byte range, read
    here (on the worker)."""
    if partition.chunks:
        yield from partition.chunks
        return
    if partition.documents:
        for name, path in partition.documents:
            yield from _read_document_chunks(path, name, CHUNK_SIZE)
        return
    with open(partition.path, "rb") as handle:  # line by line: a huge line is never held whole
        yield from lines_chunks(_ByteRange(handle, partition.start, partition.end), source=partition.name,
                                record_source=partition.name, first_line=partition.first_line)


class _ByteRange:
    """Bytes `start` to `end` of an open binary file, read by `readline` (what `bounded_lines` uses)."""

    def __init__(self, handle: Any, start: int, end: int) -> None:
        handle.seek(start)
        self._handle, self._left = handle, end - start

    def readline(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        line = self._handle.readline(self._left if size is None or size < 0 else min(size, self._left))
        self._left -= len(line)
        return line


_WORKER: dict[str, Classifier] = {}

# glibc's mallopt parameters (malloc.h) and the values a worker uses: freed memory stays in the
# heap for the next chunk instead of going back to the kernel (and being faulted in again, page by
# page: that was 1.4 of the 1.6 extra CPU-s of `--jobs 2` on 100,000 paragraphs).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_TRIM_THRESHOLD, _MMAP_THRESHOLD = 256 << 20, 32 << 20


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse (a batch's arrays are freed and allocated again
    for every chunk); False where the C library is not glibc. Peak memory is unchanged."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) and libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD))
    except (OSError, AttributeError):
        return False


def _worker_init(model_dir: str, fmt: str, threshold_scale: float, spool: str) -> None:
    if "classifier" not in _WORKER:  # a forked worker has the parent's already
        _WORKER["classifier"] = Classifier.load(model_dir, fmt=fmt, threshold_scale=threshold_scale)
    _WORKER["spool"] = spool


def _worker_chunk(item: Any) -> list[Rendered]:
    """A chunk, or a `Partition` (a byte range of a JSONL file or documents, which the worker
    reads itself, so the lines never go through the pipe), classified: one `Rendered` per chunk."""
    if isinstance(item, Chunk):
        return [classify_chunk(item, _WORKER["classifier"])]
    return classify_chunks(list(partition_chunks(item)), _WORKER["classifier"])


def merge_rendered(done: Sequence[Rendered]) -> Rendered:
    """Processed chunks as one (a partition's)."""
    return Rendered(b"".join(r.data for r in done), sum(r.count for r in done),
                    [e for r in done for e in r.errors], [w for r in done for w in r.warnings])


def _worker_spooled(item: Any) -> tuple[str, list[Rendered], list[int]]:
    """`_worker_chunk` in a worker process: the output bytes go to a file in the spool folder,
    and only its name (with each chunk's byte count) comes back through the pipe. Sent through
    the pipe, a chunk's megabyte or two kept the worker waiting until the busy parent had read
    it all. Where the spool is full, the bytes go through the pipe after all (no name)."""
    done = _worker_chunk(item)
    try:
        fd, path = tempfile.mkstemp(dir=_WORKER["spool"], prefix="part-")
    except OSError:
        return "", done, []
    try:
        with os.fdopen(fd, "wb") as out:
            for rendered in done:
                out.write(rendered.data)
    except OSError:  # e.g. a small /dev/shm (a container's 64 MB) that is full
        os.unlink(path)
        return "", done, []
    return path, [Rendered(b"", r.count, r.errors, r.warnings) for r in done], [len(r.data) for r in done]


def _unspool(result: tuple[str, list[Rendered], list[int]]) -> list[Rendered]:
    path, done, sizes = result
    if not path:
        return done
    with open(path, "rb") as source:
        data = source.read()
    os.unlink(path)
    out, at = [], 0
    for rendered, size in zip(done, sizes):
        out.append(Rendered(data[at:at + size], rendered.count, rendered.errors, rendered.warnings))
        at += size
    return out


def _spool_folder() -> str:
    """A private folder for the workers' output, in memory where the system has one (/dev/shm)."""
    shm = "/dev/shm"
    base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
    return tempfile.mkdtemp(prefix="pmc-spool-", dir=base)


# The cyclic collector while batches run: every this many allocations instead of 700. A batch's
# objects are freed by reference counting (they hold no cycles), and the default collector's
# passes over them were 3 % of a run: 0.28 of 10 CPU-s on 100,000 paragraphs, 0.003 with this.
_BATCH_GC_THRESHOLDS = (50_000, 20, 20)
_IN_FLIGHT_PER_WORKER = 3  # items handed to the pool and not yet written out, per worker


@contextmanager
def _collector_for_batches() -> Iterator[None]:
    """Everything alive now (the model) moves out of the collector's sight (`gc.freeze`: also
    what keeps forked workers from copying the pages they share with the parent), and the
    collector runs less often; both restored afterwards."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*_BATCH_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def run_chunks(chunks: Iterable[Any], classifier: Classifier, *, jobs: int = 1,
               model_dir: Path | None = None) -> Iterator[Rendered]:
    """Classified chunks in input order; `jobs > 1` classifies them in worker processes that
    load the model from `model_dir` (the registry version folder) once each. With workers the
    items may also be `Partition`s (`plan_partitions`): byte ranges of JSONL
    files that each worker reads itself."""
    keep_freed_memory()  # (inherited by forked workers)
    if jobs <= 1 or model_dir is None:
        _WORKER["classifier"] = classifier
        try:
            with _collector_for_batches():
                for item in chunks:
                    yield from _worker_chunk(item)
        finally:
            _WORKER.pop("classifier", None)
        return
    import multiprocessing as mp
    import shutil

    context = mp.get_context("fork" if sys.platform != "win32" else "spawn")
    if context.get_start_method() == "fork":
        classifier.warm()  # built once here, shared by the workers
    with _collector_for_batches():
        spool = _spool_folder()
        _WORKER["classifier"] = classifier  # inherited by forked workers: no second load
        try:
            pool = context.Pool(jobs, initializer=_worker_init,
                                initargs=(str(model_dir), classifier.fmt, classifier.threshold_scale, spool))
        except BaseException:
            shutil.rmtree(spool, ignore_errors=True)
            raise
        finally:
            _WORKER.pop("classifier", None)
        try:
            with pool:
                # In input order, with a bounded window of items in flight: the input is read only
                # as fast as the workers take it, and memory (and the spool) stays flat however
                # slowly the output is consumed.
                pending: deque[Any] = deque()
                for item in chunks:
                    pending.append(pool.apply_async(_worker_spooled, (item,)))
                    if len(pending) >= _IN_FLIGHT_PER_WORKER * jobs:
                        yield from _unspool(pending.popleft().get())
                while pending:
                    yield from _unspool(pending.popleft().get())
        finally:
            shutil.rmtree(spool, ignore_errors=True)
