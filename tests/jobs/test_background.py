"""The background retrain: one per store, real stages on the bar, cancel, a lock across processes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from classifier import background
from classifier.errors import StoreError
from classifier.progress import Step
from classifier.scoring.registry import list_models
from classifier.store import open_store, read_scores
from conftest import make_workspace


def test_the_bar_follows_the_stages_in_order() -> None:
    job = background.Job(db="x", cv_repeats=1)
    seen = []
    for step in [Step("cv 1", "cv", 0, 5), Step("cv 5", "cv", 4, 5), Step("cal 1", "calibrate", 0, 5),
                 Step("fit", "fit"), Step("save", "save"), Step("scored 10 of 20", "score", 10, 20)]:
        job.report(step)
        seen.append(job.fraction)
    assert seen == sorted(seen) and seen[0] == 0.0 and seen[-1] < 1.0
    assert seen[1] == pytest.approx(0.6 * 4 / 5)
    assert job.stage == "scored 10 of 20" and job.log[0] == "cv 1"
    without_cv = background.Job(db="x", cv_repeats=0)
    without_cv.report(Step("cal 1", "calibrate", 0, 5))
    assert without_cv.fraction == 0.0  # no cross-validation: calibration starts the bar


def test_a_retrain_runs_to_a_scored_candidate_and_only_one_runs(tmp_path: Path) -> None:
    db, registry, report = make_workspace(tmp_path)
    job = background.start_retrain(db, by="ada", registry=registry, cv_repeats=0)
    assert background.start_retrain(db, by="ada", registry=registry, cv_repeats=0) is job  # the running one
    assert job.wait(300).state == "done", job.error
    assert background.current_job(db) is job and job.fraction == 1.0
    assert any(line.startswith("calibration: out-of-fold scores, fold 1 of") for line in job.log)
    assert any(line.startswith("fitting the final model") for line in job.log)
    version = job.result["version"]
    assert version in {m["version"] for m in list_models(registry=registry)} and version != report["active"]
    with open_store(db) as store:
        assert len(read_scores(store, version)) == report["scored"]  # promoting it needs no scoring
    assert not background.lock_path(db).exists()


def test_cancel_stops_before_anything_is_saved(tmp_path: Path) -> None:
    db, registry, _ = make_workspace(tmp_path)
    before = {m["version"] for m in list_models(registry=registry)}
    job = background.start_retrain(db, by="ada", registry=registry, cv_repeats=1)
    job.cancel()
    assert job.wait(300).state == "cancelled"
    assert job.error == "retraining cancelled; no model version was saved"
    assert {m["version"] for m in list_models(registry=registry)} == before
    assert not background.lock_path(db).exists()


def test_another_live_process_holding_the_lock_is_respected(tmp_path: Path) -> None:
    db, registry, _ = make_workspace(tmp_path)
    lock = background.lock_path(db.resolve())
    lock.write_text(f"{os.getppid()}\n")  # a live process that is not this one
    with pytest.raises(StoreError, match=r"another process \(pid \d+\) is retraining this store"):
        background.start_retrain(db, by="ada", registry=registry)
    lock.write_text("999999999\n")  # a process that died: its lock is taken over
    assert background.start_retrain(db, by="ada", registry=registry, cv_repeats=0).wait(300).state == "done"
