"""The model shipped in the repository (models/shipped/): what a fresh clone's first start loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifier.bootstrap import bootstrap, default_shipped_path
from classifier.labels.gold import load_labelled
from classifier.labels.taxonomy import load_taxonomy
from classifier.scoring.registry import active_version, load_serving
from classifier.training import data_fingerprint

SHIPPED = default_shipped_path()


def test_the_shipped_model_was_trained_on_exactly_the_shipped_gold() -> None:
    card = json.loads((SHIPPED / "card.json").read_text(encoding="utf-8"))
    assert card["taxonomy_hash"] == load_taxonomy().hash, "retrain: pmc train --repeats 0 && pmc models --ship"
    assert card["training_data"]["hash"] == data_fingerprint(load_labelled()), (
        "labels/gold.jsonl changed since the model was shipped: pmc train --repeats 0 && pmc models --ship")
    assert set(card["files"]) == {"serving.json", "serving.npz"} and not (SHIPPED / "model.joblib").exists()


@pytest.mark.slow
def test_a_fresh_start_installs_it_instead_of_training(tmp_path: Path) -> None:
    report = bootstrap(tmp_path / "pmc.sqlite", registry=tmp_path / "models", score=False)
    card = json.loads((SHIPPED / "card.json").read_text(encoding="utf-8"))
    assert (report["installed"], report["trained"], report["active"]) == (card["version"], None, card["version"])
    assert active_version(registry=tmp_path / "models") == card["version"]
    saved = load_serving(registry=tmp_path / "models")  # checked against the card's hashes, no pickle
    assert saved.version == card["version"]


def test_a_store_with_other_gold_trains_its_own(tmp_path: Path) -> None:
    rows = load_labelled()[::10]
    report = bootstrap(tmp_path / "pmc.sqlite", registry=tmp_path / "models", gold=rows, score=False)
    assert report["installed"] is None and report["trained"] == report["active"]
