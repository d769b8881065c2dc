"""Figures in paragraphs: the seeds' numbers exactly, Chinese multipliers, qualifiers, changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifier.text.figures import find_figures, parse_number, score_figures

ROOT = Path(__file__).resolve().parents[2]


def _found(text: str) -> list[tuple[str, float, str]]:
    return [(f.kind, f.value, f.qualifier) for f in find_figures(text)]


def test_the_hundred_days_seed_figures() -> None:
    line = next(line for line in (ROOT / "seeds" / "004_db64a1ae7bdd72cb.txt").read_text(encoding="utf-8").splitlines()
                if "735 criminal cases" in line)
    assert _found(line) == [("cases", 735.0, ""), ("gangs", 21.0, ""), ("suspects", 1461.0, ""), ("suspects", 2.0, ""),
                            ("items", 3102.0, ""), ("persons_intercepted", 1050.0, "")]


def test_chinese_multipliers_qualifiers_and_changes() -> None:
    text = ("全国移民管理机构共侦办刑事案件1.6万余起，抓获犯罪嫌疑人2.4万余名，打掉组织运送偷渡团伙近900个；"
            "遣返0.8万人，同比上升12.5%，涉案金额3.2亿元。")
    assert _found(text) == [("cases", 16000.0, "more than"), ("suspects", 24000.0, "more than"),
                            ("gangs", 900.0, "nearly"), ("returned", 8000.0, ""), ("change", 12.5, ""),
                            ("money", 320000000.0, "")]
    spans = [text[f.start:f.end] for f in find_figures(text)]
    assert spans[0] == "1.6万余起" and spans[2] == "近900个"


def test_the_nia_2024_seed_figures_and_its_change() -> None:
    lines = (ROOT / "seeds" / "003_068763a167a86ed9.txt").read_text(encoding="utf-8").splitlines()
    totals = next(line for line in lines if "22,000" in line)
    assert _found(totals) == [("cases", 22000.0, "more than"), ("suspects", 39000.0, "more than"),
                              ("persons_intercepted", 6000.0, "more than"), ("returned", 103.0, "")]
    assert _found(next(line for line in lines if "decreasing by 30%" in line)) == [("change", -30.0, "")]


@pytest.mark.parametrize("name", ["000_24ba927b92883e99", "001_4fc425b8d83a2046", "002_6ae7b0e59d7fc9d5"])
def test_the_seeds_without_figures_yield_none(name: str) -> None:
    """Campaign names (Mole Hunting-2025, Kunlun 2024), dates and 一大批 are not figures."""
    assert _found((ROOT / "seeds" / f"{name}.txt").read_text(encoding="utf-8")) == []


def test_what_is_not_a_figure() -> None:
    assert _found("In 2024, a 45-year-old man was held for 18 months on July 22; 3 percent of the 12 officers") == []
    assert _found("依據第三條第二款，2024年7月6日起實施，諮詢熱線12345；第3批人員。") == []
    assert _found("Offenders are liable to a fine of up to HK$50,000 and imprisonment for two years.") == []
    assert _found("The gang members were arrested; three gang leaders fled at 2:30 p.m.") == []


@pytest.mark.parametrize(("text", "expected"), [
    # Chinese numerals, 廿, 两千, 万 with decimals
    ("共抓获犯罪嫌疑人一百二十名，查获偷渡人员两千人。", [("suspects", 120.0, ""), ("persons_intercepted", 2000.0, "")]),
    ("侦办案件1.67万起，涉案金额达3.5万元。", [("cases", 16700.0, ""), ("money", 35000.0, "")]),
    # breakdowns take the kind of their total
    ("警方拘捕廿五人，其中十二人為集團骨幹。", [("suspects", 25.0, ""), ("suspects", 12.0, "")]),
    ("近日侦破一起组织他人偷越国境案，抓获犯罪嫌疑人5名，其中包括“蛇头”2名。",
     [("cases", 1.0, ""), ("suspects", 5.0, ""), ("suspects", 2.0, "")]),
    ("入境處拘捕三十名人士，包括十八名越南籍非法入境者；另檢獲偽造身份證十二張。",
     [("suspects", 30.0, ""), ("suspects", 18.0, ""), ("items", 12.0, "")]),
    ("A total of 44 people were arrested, 30 of whom were women, including five fugitives.",
     [("suspects", 44.0, ""), ("suspects", 30.0, ""), ("suspects", 5.0, "")]),
    ("Another 26 people were held, five of them that day, including three also suspected of fraud.",
     [("suspects", 26.0, ""), ("suspects", 5.0, ""), ("suspects", 3.0, "")]),
    ("Officers found 102 immigration violations, 47 of whom were caught through document checks.",
     [("cases", 102.0, ""), ("persons_intercepted", 47.0, "")]),
    # the verb decides the kind: before the number, or after it (被捕, 落案)
    ("Police arrested 1,461 suspects, smashed 21 gangs and intercepted 1,050 people at the border.",
     [("suspects", 1461.0, ""), ("gangs", 21.0, ""), ("persons_intercepted", 1050.0, "")]),
    ("遣返非法入境人员300余人，查获“三非”外国人120名。", [("returned", 300.0, "more than"), ("foreigners", 120.0, "")]),
    ("抓获东南亚籍偷渡人员23名、中国籍“蛇头”8名。", [("foreigners", 23.0, ""), ("suspects", 8.0, "")]),
    ("兩名男子已被落案控以串謀罪；警方搜查兩個住宅單位。", [("suspects", 2.0, ""), ("dens", 2.0, "")]),
    # 一 as a count of a result, not as a story's article
    ("民警随即将一名男子控制，并在一艘快艇上发现可疑物品。", []),
    ("瓦解一個偷渡集團，拘捕四名越南人及一名港人。", [("gangs", 1.0, ""), ("suspects", 4.0, ""), ("suspects", 1.0, "")]),
    # qualifiers and ranges
    ("全年查验出入境人员5000万人次左右，抓获组织者20人以上，打掉团伙近900个。",
     [("persons_inspected", 5e7, "about"), ("suspects", 20.0, "more than"), ("gangs", 900.0, "nearly")]),
    ("破获偷渡案件3至5起，打掉团伙10-15个。", [("cases", 3.0, "range"), ("gangs", 10.0, "range")]),
    ("Investigators detained 3 to 5 suspects; about 40 foreign nationals were deported.",
     [("suspects", 3.0, "range"), ("foreigners", 40.0, "about")]),
    ("More than 2,000 illegal immigrants were intercepted and nearly 300 vehicles were inspected.",
     [("persons_intercepted", 2000.0, "more than"), ("vehicles_vessels", 300.0, "nearly")]),
    # money
    ("Officers seized HK$2.3 million in cash and RMB 500,000, and MOP 12,000 was found; 1.2 million yuan was frozen.",
     [("money", 2.3e6, ""), ("money", 5e5, ""), ("money", 12000.0, ""), ("money", 1.2e6, "")]),
    ("Participants paid HK$5,000 to HK$10,000 each.", [("money", 5000.0, "range")]),
    # changes, not counts
    ("同比下降8.5%，违法犯罪查获数同比增长20%以上。", [("change", -8.5, ""), ("change", 20.0, "more than")]),
    ("Arrests rose 12 percent year on year, crossings were down by 30%; cases were 4.5 percent lower.",
     [("change", 12.0, ""), ("change", -30.0, ""), ("change", -4.5, "")]),
])
def test_figure_forms(text: str, expected: list[tuple[str, float, str]]) -> None:
    assert _found(text) == expected


def test_spans_index_the_original_text() -> None:
    text = "拘捕廿五人。Seized MOP 12,000 and 3 to 5 boats."
    assert [f.text for f in find_figures(text)] == ["廿五人", "MOP 12,000", "3 to 5 boats"]


@pytest.mark.parametrize(("text", "value"), [("1,461", 1461.0), ("1.67", 1.67), ("一千二百", 1200.0), ("十二", 12.0),
                                             ("两", 2.0), ("two", 2.0), ("廿五", 25.0), ("卅", 30.0),
                                             ("两千", 2000.0), ("一百二十", 120.0), ("fifteen", 15.0), ("abc", None)])
def test_parse_number(text: str, value: float | None) -> None:
    assert parse_number(text) == value


def test_scores_on_the_gold_set_are_what_docs_report() -> None:
    rows = [json.loads(line) for line in (ROOT / "labels" / "figures.jsonl").read_text(encoding="utf-8").splitlines()]
    held = score_figures([(r["text"], [(f["kind"], f["value"], f["qualifier"]) for f in r["figures"]])
                          for r in rows if r["split"] == "heldout"])
    assert (held["all"]["gold"], held["all"]["found"], held["all"]["tp"]) == (76, 43, 35)  # docs/figures.md
