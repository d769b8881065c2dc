"""Background jobs: a retrain that survives leaving the page, reloads and other sessions.

`start_retrain()` runs `retraining.retrain()` in a thread of this process, with its own store
connection, and returns a `Job` that any session can find again with `current_job()` (the app's
sessions share the process). Only one retrain runs per store: a lock file next to the store,
created exclusively, also keeps another process (a second app, the CLI) out. The job's
`progress` follows the real stages — cross-validation fold k of n, calibration fold k of n,
the final fit, saving, scoring the store with the candidate (so promoting it is instant) —
from the `Step`s training reports; `cancel()` stops it at
the next step and nothing is saved.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import PmcError, StoreError
from .paths import store_key
from .progress import Step
from .retraining import retrain
from .scoring.registry import load_version
from .store import open_store
from .store.users import authorize
from .workspace import Workspace

__all__ = ["Job", "JobCancelled", "start_retrain", "current_job", "lock_path"]

# Where each stage starts on the bar and how much of it it fills (cross-validation only when it
# runs; without it the other stages stretch to fill the bar).
_SHARES = (("cv", 0.6), ("calibrate", 0.25), ("fit", 0.08), ("save", 0.02), ("score", 0.05))
_JOBS: dict[str, "Job"] = {}
_GUARD = threading.Lock()


class JobCancelled(PmcError):
    """The job was cancelled by a user; nothing was saved."""


@dataclass
class Job:
    """One background retrain of a store: its state, stage, progress and result."""

    db: str
    cv_repeats: int
    by: str = ""
    state: str = "running"  # running, done, failed, cancelled
    stage: str = "starting"
    fraction: float = 0.0
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    result: dict[str, Any] | None = None
    error: str = ""
    log: list[str] = field(default_factory=list)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def cancel(self) -> None:
        """Ask the job to stop at its next step (a fold, or before saving)."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> "Job":
        if self._thread is not None:
            self._thread.join(timeout)
        return self

    def report(self, message: str) -> None:
        """The progress callback given to training: record, advance the bar, honour a cancel."""
        if self._cancel.is_set():
            raise JobCancelled("retraining cancelled; no model version was saved")
        self.log.append(str(message))
        if isinstance(message, Step):
            self.stage = str(message)
            shares = [(name, share) for name, share in _SHARES if name != "cv" or self.cv_repeats > 0]
            total = sum(share for _, share in shares)
            start = 0.0
            for name, share in shares:
                if name == message.stage:
                    part = message.done / message.total if message.total else 0.0
                    self.fraction = (start + share * part) / total
                    break
                start += share


def lock_path(db: str | Path, registry: str | Path | None = None) -> Path:
    """The file that marks a running retrain of the store at `db`: beside an SQLite file; in
    the model registry for a PostgreSQL URL (named by a hash of the URL without its password)."""
    if isinstance(db, str) and "://" in db:
        import hashlib

        from .scoring.registry import registry_root
        from .store.postgres import redact

        digest = hashlib.sha1(redact(db).encode()).hexdigest()[:16]
        return registry_root(registry) / f".retrain-{digest}.lock"
    return Path(f"{db}.retrain.lock")


def _run(job: Job, registry: str | None, lock: Path) -> None:
    try:
        with Workspace.open(job.db, registry=registry) as ws:
            card = retrain(ws, by=job.by, progress=job.report, cv_repeats=job.cv_repeats)
            # Score the store with the candidate now, so promoting it later is instant.
            ws.score_store(saved=load_version(card["version"], registry=ws.registry), progress=job.report)
        job.result, job.state, job.fraction, job.stage = card, "done", 1.0, "done"
    except JobCancelled as exc:
        job.state, job.error = "cancelled", str(exc)
    except PmcError as exc:
        job.state, job.error = "failed", str(exc)
    except Exception as exc:  # a thread must not die silently: the page shows what happened
        job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        job.finished_at = time.time()
        lock.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _take_lock(lock: Path) -> None:
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = int(lock.read_text(encoding="utf-8").split()[0])
            except (OSError, ValueError, IndexError):
                holder = 0
            if holder and holder != os.getpid() and _alive(holder):  # our own would be in _JOBS
                raise StoreError(
                    f"{lock}: another process (pid {holder}) is retraining this store; wait for it to finish"
                ) from None
            lock.unlink(missing_ok=True)  # left behind by a process that died: take it over
            continue
        os.write(fd, f"{os.getpid()}\n".encode())
        os.close(fd)
        return
    raise StoreError(f"{lock}: could not take the retrain lock; try again")


def current_job(db: str | Path) -> Job | None:
    """The running or most recent retrain of the store at `db` in this process, if any."""
    return _JOBS.get(store_key(db))


def start_retrain(db: str | Path, *, by: str, registry: str | Path | None = None, cv_repeats: int = 1) -> Job:
    """Start retraining the store at `db` in the background; the running job if one is already on.

    `by` must be an admin (checked before anything starts; `AccessError` otherwise). Raises
    `StoreError` when another process holds the store's retrain lock.
    """
    key = store_key(db)
    with open_store(key, create=False) as store:
        authorize(store, by, "admin")
    with _GUARD:
        job = _JOBS.get(key)
        if job is not None and job.running:
            return job
        lock = lock_path(key, registry)
        _take_lock(lock)
        job = Job(db=key, cv_repeats=cv_repeats, by=by)
        job._thread = threading.Thread(target=_run, args=(job, str(registry) if registry else None, lock),
                                       name="pmc-retrain", daemon=True)
        _JOBS[key] = job
        job._thread.start()
        return job
