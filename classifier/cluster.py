"""`pmc classify --engine dask`: the batch function on a Dask cluster, past one machine.

The inputs are cut into partitions in the parent without being parsed: a JSONL file into byte
ranges of whole lines (`plan_partitions`, which counts line breaks only, so every partition knows
the number of its first line and bad lines are still reported as file:line), documents and
stdin into the chunks `pipeline.iter_chunks` makes (raw lines or paragraphs), one per partition;
a bounded window of partitions is in flight, so the client reads no faster than the cluster works. Each partition runs on a worker as `pipeline.classify_chunk`
over its chunks — the same function as a local run, hence the same bytes. A worker loads the
model once from the registry folder (arrays and JSON, SHA-256 checked, nothing unpickled), so the
model folder, the inputs and the output folder must be on storage every worker sees under the
same path. Each partition's output is written beside the output file as it finishes
(``.NAME.parts/part-00000``), then the parts are joined in input order into the one output file
and removed; without an output file the parts' bytes come back to the parent for stdout.

Without `scheduler`, a `LocalCluster` of `workers` processes on 127.0.0.1 (no dashboard) is
started and stopped; with it, the client connects to that scheduler (`tcp://host:8786`).
Needs the optional extra: ``pip install -e '.[dask]'``.
"""

from __future__ import annotations

import os
import shutil
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import PmcError
from .pipeline import CHUNK_SIZE, Chunk, Classifier, Rendered, classify_chunk, iter_chunks, lines_chunks

__all__ = ["Partition", "plan_partitions", "partition_chunks", "run_partition", "classify_on_dask", "PARTITION_LINES"]

PARTITION_LINES = CHUNK_SIZE  # JSONL lines per partition: one batch, a task of a fraction of a second


@dataclass(frozen=True)
class Partition:
    """A unit of work for one task: a byte range of whole lines of a JSONL file, or chunks."""

    index: int
    name: str = ""  # a JSONL file as given on the command line (what messages call it)
    path: str = ""  # the same file's absolute path (what a worker opens)
    start: int = 0  # byte offset of the first line
    end: int = 0  # byte offset after the last line
    first_line: int = 1
    chunks: tuple[Chunk, ...] = ()


def plan_partitions(inputs: Iterable[str], *, lines: int | None = None,
                    on_warning: Callable[[str], None] | None = None) -> Iterator[Partition]:
    """Partitions of every input, in input order: JSONL files by ranges of `lines` lines
    (default `PARTITION_LINES`; read for line breaks only), other inputs as the chunks
    `pipeline.iter_chunks` makes of them."""
    lines = lines or PARTITION_LINES
    index = 0
    for name in inputs:
        if name != "-" and name.lower().endswith(".jsonl") and os.path.isfile(name):
            for start, end, first in _line_ranges(name, lines):
                yield Partition(index, name=name, path=os.path.abspath(name), start=start, end=end,
                                first_line=first)
                index += 1
            continue
        for chunk in iter_chunks([name], on_warning=on_warning):
            yield Partition(index, chunks=(chunk,))
            index += 1


def _line_ranges(path: str, lines: int) -> Iterator[tuple[int, int, int]]:
    """(start, end, first line number) of consecutive ranges of `lines` lines of a file."""
    start, first, seen, offset = 0, 1, 0, 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            at = 0
            while True:
                room = lines - seen
                found = -1
                for _ in range(room):  # walk to the range's last line break within this block
                    found = block.find(b"\n", at)
                    if found < 0:
                        break
                    at = found + 1
                    seen += 1
                if seen < lines:
                    break
                end = offset + at
                yield start, end, first
                start, first, seen = end, first + lines, 0
            offset += len(block)
    if offset > start:
        yield start, offset, first


_LOADED: dict[tuple[str, str, float], Classifier] = {}


def _classifier(model_dir: str, fmt: str, threshold_scale: float) -> Classifier:
    """The model, loaded once per worker process (no pickle crosses the network)."""
    key = (model_dir, fmt, threshold_scale)
    if key not in _LOADED:
        _LOADED[key] = Classifier.load(model_dir, fmt=fmt, threshold_scale=threshold_scale)
    return _LOADED[key]


def partition_chunks(partition: Partition) -> Iterator[Chunk]:
    """The chunks of a partition: its own, or those of its byte range, read here (on the worker)."""
    if partition.chunks:
        yield from partition.chunks
        return
    with open(partition.path, "rb") as handle:
        handle.seek(partition.start)
        data = handle.read(partition.end - partition.start)
    import io

    yield from lines_chunks(io.BytesIO(data), source=partition.name, record_source=partition.name,
                            first_line=partition.first_line)


def run_partition(partition: Partition, *, model_dir: str, fmt: str, threshold_scale: float,
                  parts_dir: str | None) -> tuple[int, list[str], bytes | str]:
    """Classify one partition on a worker: (records, messages, the output bytes or the part's path)."""
    classifier = _classifier(model_dir, fmt, threshold_scale)
    count, errors, pieces = 0, [], []
    for chunk in partition_chunks(partition):
        rendered = classify_chunk(chunk, classifier)
        count += rendered.count
        errors += rendered.errors
        pieces.append(rendered.data)
    data = b"".join(pieces)
    if parts_dir is None:
        return count, errors, data
    path = os.path.join(parts_dir, f"part-{partition.index:05d}")
    with open(path + ".tmp", "wb") as out:
        out.write(data)
    os.replace(path + ".tmp", path)
    return count, errors, path


def classify_on_dask(inputs: Iterable[str], *, model_dir: Path, fmt: str, threshold_scale: float = 1.0,
                     parts_dir: Path | None = None, scheduler: str | None = None, workers: int = 2,
                     on_warning: Callable[[str], None] | None = None) -> Iterator[Rendered]:
    """Classified partitions in input order, computed on a Dask cluster.

    With `parts_dir` (on storage the workers share) each `Rendered.data` is empty and its
    part file is in `parts_dir`; `join_parts` then writes them out in order.
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise PmcError("the dask engine needs Dask: pip install -e '.[dask]' "
                       "(or run without --engine dask)") from None
    import dask

    cluster = None
    if scheduler is None:
        # The workers' sampling profiler takes the GIL every 10 ms to walk the task's stack, a
        # cost to this pure-Python task. (Remote workers: set
        # DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False where they start.)
        with dask.config.set({"distributed.worker.profile.enabled": False}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None, silence_logs=40)
    client = Client(cluster if cluster is not None else scheduler)
    options = {"model_dir": str(model_dir), "fmt": fmt, "threshold_scale": threshold_scale,
               "parts_dir": str(parts_dir) if parts_dir else None}
    # A bounded window of partitions in flight, collected in input order: the client reads the
    # inputs only as fast as the cluster classifies them (stdin and documents stay flat too).
    window = max(8, 4 * len(client.scheduler_info().get("workers", {})))
    pending: deque[tuple[Partition, Any]] = deque()
    try:
        for partition in plan_partitions(inputs, on_warning=on_warning):
            pending.append((partition, client.submit(run_partition, partition, pure=False, **options)))
            if len(pending) >= window:
                yield _collect(*pending.popleft())
        while pending:
            yield _collect(*pending.popleft())
    finally:
        for _, future in pending:
            future.cancel()
        client.close()
        if cluster is not None:
            cluster.close()


def _collect(partition: Partition, future: Any) -> Rendered:
    try:
        count, errors, data = future.result()
    except PmcError:
        raise
    except Exception as exc:  # e.g. a scheduler or worker without pmc, or another version of it
        message = str(exc).splitlines()[0] if str(exc) else ""
        raise PmcError(
            f"the Dask cluster could not run a partition of {partition.name or 'the input'}: "
            f"{type(exc).__name__}: {message} — every machine (scheduler and workers) needs this "
            f"version of pmc installed with pip install -e '.[dask]'"
        ) from None
    future.release()
    return Rendered(data if isinstance(data, bytes) else b"", count, errors)


def join_parts(parts_dir: Path, handle: Any) -> None:
    """Append the part files of `parts_dir` to a binary `handle` in order, then remove the folder."""
    for part in sorted(parts_dir.glob("part-*")):
        with part.open("rb") as source:
            shutil.copyfileobj(source, handle, 1 << 20)
    shutil.rmtree(parts_dir, ignore_errors=True)
