"""Evaluation: leak-free grouped folds, exact metrics, the gold checker."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from classifier.model.evaluation import multilabel_metrics
from classifier.labels.gold import check_gold, load_labelled
from classifier.labels.splits import grouped_kfold, split_components


def test_components_join_documents_through_duplicate_groups() -> None:
    docs = ["a", "a", "b", "c", "d", "e"]
    groups = ["", "g1", "g1", "", "g2", "g2"]
    components = split_components(docs, groups)
    assert components[0] == components[1] == components[2]  # a and b linked by g1
    assert components[4] == components[5]  # d and e linked by g2
    assert len(set(components)) == 3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grouped_kfold_never_puts_a_group_on_both_sides(seed: int) -> None:
    rng = np.random.default_rng(seed)
    groups = [f"g{int(x)}" for x in rng.integers(0, 23, size=200)]
    folds = grouped_kfold(groups, n_splits=5, seed=seed)
    seen_test = []
    for train, test in folds:
        assert not {groups[i] for i in train} & {groups[i] for i in test}
        assert len(train) + len(test) == 200
        seen_test.extend(test.tolist())
    assert sorted(seen_test) == list(range(200))  # every row tested exactly once


def test_grouped_kfold_on_the_real_gold_is_leak_free() -> None:
    rows = load_labelled()
    components = split_components([r.doc for r in rows], [r.group for r in rows])
    for train, test in grouped_kfold(components, n_splits=5, seed=0):
        train_groups = {rows[i].group for i in train if rows[i].group} | {rows[i].doc for i in train}
        assert not any(rows[i].group in train_groups or rows[i].doc in train_groups for i in test)


def test_grouped_kfold_rejects_too_many_folds() -> None:
    with pytest.raises(ValueError, match="need 2 <= n_splits <= number of groups"):
        grouped_kfold(["a", "a", "b"], n_splits=3)


def test_metrics_are_exact_on_a_tiny_example() -> None:
    labels = ["x", "y", "z"]
    truth = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0], [0, 1, 0]])
    pred = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 0]])
    m = multilabel_metrics(truth, pred, labels, ["zh", "en", "en", "zh"])
    assert m["per_label"]["x"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert m["per_label"]["y"]["f1"] == 1.0
    assert m["per_label"]["z"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert m["micro_f1"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 1))
    assert m["subset_accuracy"] == 0.5
    assert m["by_lang"]["zh"]["macro_f1"] == 1.0  # z absent from zh truth and predictions
    assert m["by_lang"]["en"]["n"] == 2


def test_the_shipped_gold_file_passes_the_checker() -> None:
    report = check_gold()
    assert report.problems == []
    assert report.by_source["seed"] == 66
    assert report.counts["zh"]["paragraphs"] > 50 and report.counts["en"]["paragraphs"] > 50


def test_the_shipped_gold_tells_no_story_of_the_development_set() -> None:
    dev = Path(__file__).resolve().parents[2].parent / "shared" / "devset" / "dev.jsonl"
    if not dev.exists():
        pytest.skip("the development set is not on this machine")
    report = check_gold(against=[dev])
    assert report.problems == [] and report.checked_against == [str(dev)]
    assert report.by_source["real"] >= 3000


def test_checker_wants_provenance_on_every_real_row(tmp_path: Path, root: Path) -> None:
    lines = (root / "labels" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    number, real = next((n, json.loads(line)) for n, line in enumerate(lines, 1) if '"source": "real"' in line)
    del real["publisher"]
    real["title"] = " "
    lines[number - 1] = json.dumps(real, ensure_ascii=False)
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert check_gold(path).problems == [
        f"{path}:{number}: real row without title, publisher; record the page's source_url, title, publisher "
        f"and the paragraph's lang (and the date when the page shows one)"
    ]


def test_checker_reports_unknown_labels_duplicates_and_missing_seeds(tmp_path: Path, root: Path) -> None:
    lines = (root / "labels" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    bad = dict(first, labels=["smuggling"])
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join([lines[0], lines[0], json.dumps(bad), *lines[2:]]) + "\n", encoding="utf-8")
    report = check_gold(path)
    assert not report.ok
    problems = "\n".join(report.problems)
    assert f"{path}:2: duplicate id '{first['id']}' (first at {path}:1)" in problems
    assert f"{path}:3: unknown label 'smuggling'" in problems
    second = json.loads(lines[1])
    assert f"missing seed paragraph {second['doc']}:{second['index']} ({second['id']})" in problems


def test_real_cv_keeps_pages_and_stories_on_one_side_and_codebook_rows_train_only() -> None:
    from classifier.labels.gold import LabelledParagraph
    from classifier.model.evaluation import cross_validate, cv_components

    def row(i: int, doc: str, text: str, source: str = "real", url: str = "") -> LabelledParagraph:
        labels = ("enforcement",) if i % 2 else ()
        return LabelledParagraph(id=f"p{i}", doc=doc, index=i, lang="en", text=text, labels=labels, source=source,
                                 extra={"source_url": url} if url else {})

    rows = [row(i, f"real/{i}", f"Police solved case {i} at the border.", url=f"http://site/{i}") for i in range(12)]
    # two outlets telling one story (shared distinctive figures) and one page with two paragraphs
    rows += [row(20, "real/a", "Officers cracked 735 cases and held 1,461 suspects.", url="http://a"),
             row(21, "real/b", "移民管理机构破获案件735起，抓获1461人。", url="http://b"),
             row(22, "real/c", "A patrol boat watched the river.", url="http://c"),
             row(23, "real/c", "The weather was fine.", url="http://c")]
    rows += [row(30 + i, f"codebook/x/{i}", f"Codebook example {i} about patrols.", source="codebook") for i in range(6)]
    components = cv_components(rows)
    assert components[12] == components[13] and components[14] == components[15] and components[12] != components[14]

    class Recorder:
        seen: list[tuple[set[str], set[str]]] = []

        def fit(self, X, Y, groups=None):  # noqa: ANN001, ANN201
            self.train = set(X)
            return self

        def predict(self, X):  # noqa: ANN001, ANN201
            Recorder.seen.append((self.train, set(X)))
            return np.zeros((len(X), 1), dtype=np.int64)

    cv = cross_validate(rows, {"r": lambda _rows: Recorder()}, ["enforcement"], n_splits=4, repeats=2,
                        evaluate=lambda r: r.source != "codebook")
    assert cv["n"] == 16 and cv["n_train_only"] == 6 and cv["leak_free"]
    codebook = {r.text for r in rows if r.source == "codebook"}
    by_text = {r.text: c for r, c in zip(rows, components)}
    for train, test in Recorder.seen:
        assert codebook <= train and not codebook & test  # trained on, never scored
        assert not {by_text[t] for t in train} & {by_text[t] for t in test}  # no page or story on both sides
