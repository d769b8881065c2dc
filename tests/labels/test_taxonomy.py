"""Codebook: the real file loads and is consistent; a bad file fails with file, key and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.errors import TaxonomyError
from classifier.labels.taxonomy import load_taxonomy

LABELS = ("enforcement", "port_inspection", "border_patrol", "source_governance", "international_cooperation")


def test_the_codebook_loads_with_five_categories_in_order() -> None:
    taxonomy = load_taxonomy()
    assert taxonomy.label_ids == LABELS
    assert len(taxonomy.hash) == 16
    assert taxonomy is load_taxonomy()  # loaded once, cached


@pytest.mark.parametrize("label", LABELS)
def test_each_category_has_bilingual_names_terms_and_enough_examples(label: str) -> None:
    category = load_taxonomy().category(label)
    assert category.name_en and category.name_zh and category.definition_en and category.definition_zh
    assert category.terms_zh and category.terms_en
    for lang in ("zh", "en"):
        positives = [e for e in category.examples if e.lang == lang and e.kind == "positive"]
        near = [e for e in category.examples if e.lang == lang and e.kind == "near_miss"]
        assert len(positives) >= 3 and len(near) >= 3, (label, lang)
        assert all(label in e.labels for e in positives)
        assert all(label not in e.labels for e in near)


def test_conventions_from_the_devset_readme_are_in_the_codebook() -> None:
    text = " ".join(load_taxonomy().conventions).lower()
    for phrase in ("hong kong", "statistics", "travel volumes", "named in a list", "port waters"):
        assert phrase in text


def test_codebook_objects_are_immutable() -> None:
    category = load_taxonomy().categories[0]
    with pytest.raises(AttributeError):
        category.id = "other"  # type: ignore[misc]


MINIMAL = """
[taxonomy]
name = "t"
[none]
definition_en = "none"
definition_zh = "无"
[[category]]
id = "a"
name_en = "A"
name_zh = "甲"
definition_en = "a"
definition_zh = "甲"
[[category.concept]]
id = "x"
zh = ["口岸"]
en = ["port"]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "taxonomy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_minimal_codebook_loads(tmp_path: Path) -> None:
    taxonomy = load_taxonomy(_write(tmp_path, MINIMAL))
    assert taxonomy.label_ids == ("a",)
    assert taxonomy.concepts[0].key == "a/x"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace('id = "x"', 'id = "x"\ncolour = "red"'), r"unknown key 'colour' in category 'a' concept\[0\]"),
        (lambda t: t + '[[category]]\nid = "a"\nname_en = "B"\nname_zh = "乙"\ndefinition_en = "b"\ndefinition_zh = "乙"\n',
         r"duplicate category id 'a'"),
        (lambda t: t.replace('name_en = "A"', 'name_en = " "'), r"category 'a'\.name_en is empty or missing"),
        (lambda t: t.replace('name = "t"', 'name = "t"\nowner = "x"'), r"unknown key 'owner' in \[taxonomy\]"),
        (lambda t: t.replace('id = "a"', 'id = "A-1"'), r"category id 'A-1' must be lower_snake_case"),
        (lambda t: t + '[[category.example]]\nlang = "zh"\nkind = "positive"\ntext = "t"\nlabels = ["b"]\n',
         r"labels has unknown id 'b'"),
        (lambda t: t + '[[category.example]]\nlang = "zh"\nkind = "positive"\ntext = "t"\nlabels = []\n',
         r"is a positive example of 'a' but its labels are \[\]"),
        (lambda t: t + '[[category.example]]\nlang = "fr"\ntext = "t"\nlabels = ["a"]\n', r"lang is 'fr'"),
        (lambda t: t.replace("[none]", "[none"), r"not valid UTF-8 TOML"),
    ],
)
def test_bad_codebooks_fail_with_file_key_and_fix(tmp_path: Path, change, message: str) -> None:
    path = _write(tmp_path, change(MINIMAL))
    with pytest.raises(TaxonomyError, match=message) as info:
        load_taxonomy(path)
    assert str(path) in str(info.value)


def test_missing_codebook_file(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match=r"cannot read the codebook"):
        load_taxonomy(tmp_path / "nope.toml")


def test_hash_changes_with_content(tmp_path: Path) -> None:
    first = load_taxonomy(_write(tmp_path, MINIMAL)).hash
    other = tmp_path / "b" / "taxonomy.toml"
    other.parent.mkdir()
    other.write_text(MINIMAL.replace('"port"', '"port of entry"'), encoding="utf-8")
    assert load_taxonomy(other).hash != first


def test_english_terms_found_in_real_text_are_kept_apart_and_can_be_left_out(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL.replace('en = ["port"]', 'en = ["port"]\nen_real = ["airport", "border gate"]'))
    taxonomy = load_taxonomy(path)
    concept = taxonomy.concepts[0]
    assert (concept.en, concept.en_real) == (("port",), ("airport", "border gate"))
    assert taxonomy.lexicon == (("a/x", ("口岸", "port", "airport", "border gate")),)
    assert taxonomy.lexicon_of(real_en=False) == (("a/x", ("口岸", "port")),)
    assert taxonomy.category("a").terms_en == ("port", "airport", "border gate")


def test_a_term_in_both_english_lists_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL.replace('en = ["port"]', 'en = ["port"]\nen_real = ["port"]'))
    with pytest.raises(TaxonomyError, match=r"category 'a' concept\[0\] lists 'port' in both en and en_real"):
        load_taxonomy(path)


def test_the_real_codebook_marks_english_terms_from_real_text() -> None:
    taxonomy = load_taxonomy()
    real = {t for c in taxonomy.concepts for t in c.en_real}
    assert {"illegal crossing", "guard the border", "false passport"} <= real
    assert not real & {t for c in taxonomy.concepts for t in c.en}
    without = {t for _key, terms in taxonomy.lexicon_of(real_en=False) for t in terms}
    assert not real & without and len(taxonomy.lexicon_of(real_en=False)) == len(taxonomy.lexicon)
