"""Campaigns and publishers as validated data, and what documents say about them."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.errors import TaxonomyError
from classifier.labels.catalogue import load_catalogue
from classifier.metadata import extract_metadata, merge_metadata
from classifier.text.reader import read_document
from classifier.text.segmenter import segment

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


@pytest.mark.parametrize(("text", "expected"), [
    ('special operation "Mole Hunting-2025" aimed at', [("mongoose", 2025)]),
    ('codenamed "Mongoose Hunting-2025," was held', [("mongoose", 2025)]),
    ('the "Meerkat Hunting" Action', [("mongoose", None)]),
    ("2023年“獴猎”行动开展以来", [("mongoose", 2023)]),
    ("“獴獵-2024”專項行動", [("mongoose", 2024)]),
    ('the "Kunlun 2024" special action', [("kunlun", 2024)]),
    ('launch of the "Hundred Days Action" in summer', [("hundred_days", None)]),
    ("集中开展集群战役，百日行动", [("cluster", None), ("hundred_days", None)]),
    ("Kunlunshan county; the mongooses of Hainan", [("mongoose", None)]),
])
def test_campaigns_named_in_text(text: str, expected: list) -> None:
    assert [(m.campaign, m.year) for m in load_catalogue().campaigns_in(text)] == expected


def test_publishers_named_in_text() -> None:
    catalogue = load_catalogue()
    assert catalogue.publisher_in("China News Service, July 7th. According to the NIA") == "chinanews"
    assert catalogue.publisher_in("新华社北京7月5日电") == "xinhua"
    assert catalogue.publisher_in("入境事務處今日") == "hk_immd"
    assert catalogue.publisher_in("a local bakery") is None


def test_a_bad_catalogue_is_refused_with_where_and_how(tmp_path: Path) -> None:
    (tmp_path / "campaigns.toml").write_text(
        '[[campaign]]\nid = "a"\nname_en = "A"\nname_zh = "甲"\naliases = ["Kunlun"]\n'
        '[[campaign]]\nid = "b"\nname_en = "B"\nname_zh = "乙"\naliases = ["kunlun"]\n', encoding="utf-8")
    (tmp_path / "publishers.toml").write_text('[[publisher]]\nid = "p"\nname = "P"\naliases = ["P"]\n',
                                              encoding="utf-8")
    with pytest.raises(TaxonomyError) as caught:
        load_catalogue(tmp_path)
    assert str(caught.value) == (f"{tmp_path / 'campaigns.toml'}: [[campaign]] #2: alias 'kunlun' also names 'a'; "
                                 f"give it to one entry")


def test_the_seeds_metadata() -> None:
    def meta(name: str) -> dict:
        document = read_document(SEEDS / name)
        return extract_metadata(document.text.splitlines(), langs=[p.lang for p in segment(document)])

    first = meta("000_24ba927b92883e99.txt")
    assert (first["date"], first["date_inferred"], first["publisher"], first["lang"]) == (
        "2025-07-22", True, "National Immigration Administration", "en")
    assert first["campaigns"][0] == {"id": "mongoose", "year": 2025}
    assert meta("003_068763a167a86ed9.txt")["date"] == "2024-09-11"
    assert meta("002_6ae7b0e59d7fc9d5.txt")["campaigns"][0] == {"id": "kunlun", "year": 2024}
    hundred = meta("004_db64a1ae7bdd72cb.txt")
    assert (hundred["date"], hundred["publisher"], hundred["campaigns"][0]["id"]) == (
        "--07-07", "China News Service", "hundred_days")


def test_a_records_own_fields_win_over_extraction() -> None:
    extracted = {"date": "--07-07", "date_inferred": True, "publisher": "Xinhua", "extracted": ["date", "publisher"]}
    merged = merge_metadata(extracted, {"date": "2022-07-07", "campaign": "hundred_days", "publisher": ""})
    assert merged == {"date": "2022-07-07", "publisher": "Xinhua", "extracted": ["publisher"],
                      "campaign": "hundred_days", "campaigns": [{"id": "hundred_days", "year": None}]}
