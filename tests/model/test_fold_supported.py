"""Cross-validation does not credit terms harvested from the rows it scores: a fold's model keeps an
`en_real` term only where that fold's training rows of its category contain it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from classifier.labels.gold import LabelledParagraph
from classifier.labels.taxonomy import load_taxonomy
from classifier.model.evaluation import cross_validate
from classifier.training import baseline_factories, fold_supported, make_model

CODEBOOK = """
[taxonomy]
name = "t"
[none]
definition_en = "none"
definition_zh = "无"
[[category]]
id = "port"
name_en = "Port"
name_zh = "口岸"
definition_en = "p"
definition_zh = "口"
[[category.concept]]
id = "place"
zh = ["口岸"]
en = ["port of entry"]
en_real = ["airport", "border gate"]
[[category]]
id = "patrol"
name_en = "Patrol"
name_zh = "巡逻"
definition_en = "b"
definition_zh = "巡"
[[category.concept]]
id = "patrol"
zh = ["巡逻"]
en = ["patrol"]
en_real = ["kept watch"]
"""


def _row(i: int, text: str, labels: tuple[str, ...]) -> LabelledParagraph:
    return LabelledParagraph(id=f"r{i}", doc=f"doc{i}", index=0, lang="en", text=text, labels=labels, source="real")


def test_a_harvested_term_stays_only_where_a_training_row_of_its_category_has_it(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.toml"
    path.write_text(CODEBOOK, encoding="utf-8")
    taxonomy = load_taxonomy(path)
    rows = [
        _row(0, "Officers at the AIRPORT checked passports.", ("port",)),  # folded: case does not matter
        _row(1, "Guards kept watch at the border gate.", ()),  # border gate: in a row, not of its category
        _row(2, "Police patrolled the river.", ("patrol",)),
    ]
    assert fold_supported(taxonomy, taxonomy.lexicon, rows) == (
        ("port/place", ("口岸", "port of entry", "airport")), ("patrol/patrol", ("巡逻", "patrol")))
    # no rows: nothing harvested is supported; the codebook's own terms always stay
    assert fold_supported(taxonomy, taxonomy.lexicon, []) == (
        ("port/place", ("口岸", "port of entry")), ("patrol/patrol", ("巡逻", "patrol")))
    # make_model without rows keeps everything (the model that ships), with rows only what they support
    assert make_model(taxonomy).lexicon == taxonomy.lexicon
    assert make_model(taxonomy, training_rows=rows[2:]).lexicon == (
        ("port/place", ("口岸", "port of entry")), ("patrol/patrol", ("巡逻", "patrol")))
    assert make_model(taxonomy, real_en_terms=False).lexicon == (
        ("port/place", ("口岸", "port of entry")), ("patrol/patrol", ("巡逻", "patrol")))
    keywords = baseline_factories(taxonomy)["keywords"]
    assert keywords(rows[:1]).lexicon == (("port/place", ("口岸", "port of entry", "airport")),
                                          ("patrol/patrol", ("巡逻", "patrol")))
    assert keywords().lexicon == taxonomy.lexicon


def test_cross_validation_hands_each_factory_the_fold_training_rows_only() -> None:
    rows = [_row(i, f"Paragraph number {i} about patrols.", ("patrol",) if i % 2 else ()) for i in range(10)]
    calls: list[tuple[set[str], set[str]]] = []

    class Model:
        def __init__(self, seen: list[LabelledParagraph]) -> None:
            self.seen = {r.text for r in seen}

        def fit(self, X, Y, groups=None):  # noqa: ANN001, ANN201
            assert set(X) == self.seen  # the rows handed to the factory are the rows it is fitted on
            return self

        def predict(self, X):  # noqa: ANN001, ANN201
            calls.append((self.seen, set(X)))
            return np.zeros((len(X), 1), dtype=np.int64)

    cross_validate(rows, {"m": Model}, ["patrol"], n_splits=5, repeats=1)
    assert len(calls) == 5
    for seen, scored in calls:
        assert len(seen) == 8 and len(scored) == 2 and not seen & scored
