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


def test_what_is_not_a_figure() -> None:
    assert _found("In 2024, a 45-year-old man was held for 18 months on July 22; 3 percent of the 12 officers") == []


@pytest.mark.parametrize(("text", "value"), [("1,461", 1461.0), ("1.67", 1.67), ("一千二百", 1200.0), ("十二", 12.0),
                                             ("两", 2.0), ("two", 2.0), ("abc", None)])
def test_parse_number(text: str, value: float | None) -> None:
    assert parse_number(text) == value


def test_scores_on_the_gold_set_are_what_docs_report() -> None:
    rows = [json.loads(line) for line in (ROOT / "labels" / "figures.jsonl").read_text(encoding="utf-8").splitlines()]
    held = score_figures([(r["text"], [(f["kind"], f["value"], f["qualifier"]) for f in r["figures"]])
                          for r in rows if r["split"] == "heldout"])
    assert (held["all"]["gold"], held["all"]["found"], held["all"]["tp"]) == (76, 35, 26)  # docs/figures.md
