"""The serving form on disk: format 2 stores each TF-IDF block's lookup arrays, format 1 still loads.

A cold `pmc classify` loads the model from `serving.json` + `serving.npz`; from format 2 on the
npz also holds `featurize.lookup_arrays` of every TF-IDF block, so loading builds no dictionary
of grams and splits no bigram. Models saved before (format 1, e.g. an older registry) load and
score the same; `pmc models --ship` writes the current format.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from classifier.scoring import serving
from classifier.scoring.batch import BatchScorer
from classifier.scoring.registry import install_shipped, load_serving, ship_version
from classifier.scoring.serving import ServingModel
from classifier.text.normalize import fold_many

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "models" / "shipped"
TEXTS = ["边检站加强口岸查缉，严防偷渡人员闯关出境。", "Border police patrol the ports of entry; 1,461 cases.",
         "國（邊）境管理 smuggling 走私 anti-smuggling", "", "口岸"]


def _as_format_1(source: Path, target: Path) -> None:
    """A copy of a serving form as pmc wrote it before format 2: no lookup arrays."""
    target.mkdir(parents=True, exist_ok=True)
    meta = json.loads((source / "serving.json").read_text(encoding="utf-8"))
    meta["format"] = 1
    (target / "serving.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    with np.load(source / "serving.npz", allow_pickle=False) as arrays:
        kept = {k: arrays[k] for k in arrays.files if not k.startswith(serving._INDEX_PREFIX)}
    np.savez(target / "serving.npz", **kept)


def test_the_shipped_model_is_in_the_current_format() -> None:
    meta = json.loads((SHIPPED / "serving.json").read_text(encoding="utf-8"))
    assert meta["format"] == serving.FORMAT == 2, "re-ship it: pmc models --ship"
    with np.load(SHIPPED / "serving.npz", allow_pickle=False) as arrays:
        assert {"index_0_unigram_columns", "index_0_pair_keys", "index_1_han_bigram_keys"} <= set(arrays.files)


def test_format_1_loads_and_scores_the_same(tmp_path: Path) -> None:
    _as_format_1(SHIPPED, tmp_path)
    new, old = ServingModel.load(SHIPPED), ServingModel.load(tmp_path)
    folded = fold_many(TEXTS)
    reference = new.predict_proba_folded(folded)
    assert np.array_equal(old.predict_proba_folded(folded), reference)
    assert np.array_equal(BatchScorer(old).probabilities(folded), reference)
    for a, b in zip(new.blocks, old.blocks):
        if hasattr(a, "index_arrays"):
            computed, stored = b.index_arrays(), a.index_arrays()
            assert computed.keys() == stored.keys()
            assert all(np.array_equal(computed[k], stored[k]) for k in stored)


def test_shipping_writes_an_old_version_in_the_current_format(tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(SHIPPED, old)
    _as_format_1(SHIPPED, old)
    card = json.loads((old / "card.json").read_text(encoding="utf-8"))
    card["files"] = {name: serving_sha(old / name) for name in serving.SERVING_FILES}
    (old / "card.json").write_text(json.dumps(card), encoding="utf-8")
    registry = tmp_path / "models"
    version = install_shipped(old, registry=registry)
    assert json.loads((registry / version / "serving.json").read_text(encoding="utf-8"))["format"] == 1
    shipped = ship_version(version, registry=registry, dest=tmp_path / "shipped")
    assert json.loads((shipped / "serving.json").read_text(encoding="utf-8"))["format"] == serving.FORMAT
    # the same version, re-shipped in the new format, installs over the old copy (kept as it is)
    assert install_shipped(shipped, registry=registry) == version
    saved = load_serving(registry=registry)
    folded = fold_many(TEXTS)
    assert np.array_equal(saved.model.predict_proba_folded(folded),
                          ServingModel.load(shipped).predict_proba_folded(folded))


def test_a_block_needs_its_vocabulary_or_its_grams() -> None:
    with pytest.raises(ValueError, match="vocabulary or its grams"):
        serving._TfidfBlock("words", None, np.zeros(0), 1)


def serving_sha(path: Path) -> str:
    from classifier.scoring.registry import file_sha256

    return file_sha256(path)
