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
    with np.load(source / "serving.npz", allow_pickle=False) as arrays:
        data = {k: arrays[k] for k in arrays.files}
    for i, block in enumerate(meta["blocks"]):
        if f"{serving._GRAMS_PREFIX}{i}" in data:
            block["grams"] = data[f"{serving._GRAMS_PREFIX}{i}"].tobytes().decode("utf-8").split("\n")
    (target / "serving.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    np.savez(target / "serving.npz", **{k: v for k, v in data.items()
                                        if not k.startswith((serving._INDEX_PREFIX, serving._GRAMS_PREFIX))})


def test_the_shipped_model_is_in_the_current_format() -> None:
    meta = json.loads((SHIPPED / "serving.json").read_text(encoding="utf-8"))
    assert meta["format"] == serving.FORMAT == 2, "re-ship it: pmc models --ship"
    with np.load(SHIPPED / "serving.npz", allow_pickle=False) as arrays:
        assert {"grams_0", "grams_1", "index_0_unigram_columns", "index_0_pair_keys",
                "index_1_han_bigram_keys"} <= set(arrays.files)
    assert not any("grams" in block for block in meta["blocks"])


def test_format_1_loads_and_scores_the_same(tmp_path: Path) -> None:
    _as_format_1(SHIPPED, tmp_path)
    new, old = ServingModel.load(SHIPPED), ServingModel.load(tmp_path)
    folded = fold_many(TEXTS)
    reference = new.predict_proba_folded(folded)
    assert np.array_equal(old.predict_proba_folded(folded), reference)
    assert np.array_equal(BatchScorer(old).probabilities(folded), reference)
    for a, b in zip(new.blocks, old.blocks):
        if hasattr(a, "index_arrays"):
            assert a.grams == b.grams and a.vocabulary == b.vocabulary
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


def test_the_compiled_table_from_lines_is_the_table_of_the_grams() -> None:
    from classifier.text import scan

    native = scan.compiled()
    if native is None:
        pytest.skip("classifier.text._scan is not built")
    grams = ["a", "port", "口岸", "口岸 检查", "𠀀x", "é", "patrol", "ports of", "z"]
    text = "\n".join(grams).encode("utf-8")
    columns = np.array([0, 1, 2, 4, 5, 6, 8], dtype=np.int64)
    table = native.vocabulary_from_lines(text, columns)
    assert len(table) == len(columns)
    assert [table.get(g) for g in grams] == [c if c in columns else -1 for c in range(len(grams))]
    assert table.get("missing") == -1
    with pytest.raises(ValueError, match="past the last line"):
        native.vocabulary_from_lines(text, np.array([3, 99], dtype=np.int64))
    with pytest.raises(ValueError, match="invalid UTF-8"):
        native.vocabulary_from_lines(b"ok\n\xff\xfe", np.array([1], dtype=np.int64))
