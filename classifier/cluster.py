"""`pmc classify --engine dask`: the batch function on a Dask cluster, past one machine.

The inputs are cut into partitions in the parent without being parsed: a JSONL file into byte
ranges of whole lines (`plan_partitions`, which counts line breaks only, so every partition knows
the number of its first line and bad lines are still reported as file:line), each document
into a partition of its own that the worker reads and segments, and stdin into the chunks
`pipeline.iter_chunks` makes (raw lines or paragraphs), one per partition; a bounded window of partitions is in flight, so the client reads no faster than the cluster works. Each partition runs on a worker as `pipeline.classify_chunk`
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
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import PmcError
from .pipeline import (
    PARTITION_LINES, Classifier, Partition, Rendered, classify_chunks, merge_rendered, partition_chunks,
    plan_partitions,
)

__all__ = ["Partition", "plan_partitions", "partition_chunks", "run_partition", "classify_on_dask", "PARTITION_LINES"]

_LOADED: dict[tuple[str, str, float], Classifier] = {}


def _classifier(model_dir: str, fmt: str, threshold_scale: float) -> Classifier:
    """The model, loaded once per worker process (no pickle crosses the network)."""
    key = (model_dir, fmt, threshold_scale)
    if key not in _LOADED:
        _LOADED[key] = Classifier.load(model_dir, fmt=fmt, threshold_scale=threshold_scale)
    return _LOADED[key]


def run_partition(partition: Partition, *, model_dir: str, fmt: str, threshold_scale: float,
                  parts_dir: str | None) -> Rendered:
    """Classify one partition on a worker; with `parts_dir`, the output goes to its part file
    there and `Rendered.data` is empty."""
    classifier = _classifier(model_dir, fmt, threshold_scale)
    rendered = merge_rendered(classify_chunks(list(partition_chunks(partition)), classifier))
    if parts_dir is None:
        return rendered
    path = os.path.join(parts_dir, f"part-{partition.index:05d}")
    with open(path + ".tmp", "wb") as out:
        out.write(rendered.data)
    os.replace(path + ".tmp", path)
    return Rendered(b"", rendered.count, rendered.errors, rendered.warnings)


def classify_on_dask(inputs: Iterable[str], *, model_dir: Path, fmt: str, threshold_scale: float = 1.0,
                     parts_dir: Path | None = None, scheduler: str | None = None,
                     workers: int = 2) -> Iterator[Rendered]:
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
    n_workers = len(client.scheduler_info().get("workers", {}))
    window = max(8, 4 * n_workers)
    pending: deque[tuple[Partition, Any]] = deque()
    try:
        for partition in plan_partitions(inputs, workers=n_workers):
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
        rendered = future.result()
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
    return rendered


def join_parts(parts_dir: Path, handle: Any) -> None:
    """Append the part files of `parts_dir` to a binary `handle` in order, then remove the folder."""
    for part in sorted(parts_dir.glob("part-*")):
        with part.open("rb") as source:
            shutil.copyfileobj(source, handle, 1 << 20)
    shutil.rmtree(parts_dir, ignore_errors=True)
