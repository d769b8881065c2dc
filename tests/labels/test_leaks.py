"""Leak checks against a held-out set: same page, same story in another language, near-copies."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from classifier.cli import cli
from classifier.labels.gold import check_gold, codebook_records, write_labelled
from classifier.labels.leaks import figures, find_leaks, story_groups

HELD_OUT = [
    {"id": "d1", "source_url": "http://news.example/a", "text": "移民管理机构共破获案件735起，抓获犯罪嫌疑人1461人，其中缉捕蛇头2人。"},
    {"id": "d2", "source_url": "http://news.example/b", "text": "今年以来抓获犯罪嫌疑人1.67万人，遣返0.812万人。"},
    {"id": "d3", "source_url": "http://news.example/c",
     "text": "Border police in Yunnan stepped up night patrols along the frontier and set checkpoints on mountain trails."},
]


def test_figures_are_canonical_across_scripts_and_languages() -> None:
    assert figures("抓获1.67万人") == figures("arrested 16,700 people") == {"n:16700"}
    assert figures("735 cases, 1,461 suspects") == figures("735起，1461人") == {"n:735", "n:1461"}
    assert figures("增长12.5%") == {"pct:12.5"}
    # ages, days, round numbers and years are not distinctive
    assert figures("aged 22 and 58, on 30 June 2024, 300 officers, 1,000 checks, 0.8万人") == frozenset()


def test_a_translated_paraphrase_of_a_held_out_story_is_found() -> None:
    planted = [{"id": "r1", "source_url": "http://other.example/x",
                "text": "Immigration authorities cracked 735 cases and arrested 1,461 suspects, two snakeheads among them."}]
    [leak] = find_leaks(planted, HELD_OUT)
    assert (leak.row, leak.id, leak.reason) == (0, "r1", "same story")
    assert leak.detail == "shares 1461, 735 with http://news.example/a"


def test_the_story_is_judged_on_the_whole_page() -> None:
    page = [{"id": "p1", "source_url": "http://mirror.example/y", "text": "记者获悉，抓获犯罪嫌疑人1.67万人。"},
            {"id": "p2", "source_url": "http://mirror.example/y", "text": "同期遣返8,120人。"},
            {"id": "p3", "source_url": "http://mirror.example/y", "text": "移民管理机构表示将持续开展专项行动。"}]
    assert [(leak.id, leak.reason) for leak in find_leaks(page, HELD_OUT)] == [
        ("p1", "same story"), ("p2", "same story"), ("p3", "same story")]


def test_same_page_and_near_copy_are_found_and_unrelated_text_is_not() -> None:
    rows = [
        {"id": "u", "source_url": "http://news.example/c", "text": "A different paragraph of the same page."},
        {"id": "c", "source_url": "http://x.example/1",
         "text": "Border police in Yunnan stepped up night patrols along the frontier and set checkpoints on trails."},
        {"id": "n", "source_url": "http://x.example/2",
         "text": "The Ministry of Public Security said 21 gangs were destroyed in 30 days."},
    ]
    assert [(leak.id, leak.reason) for leak in find_leaks(rows, HELD_OUT)] == [
        ("u", "same source_url"), ("c", "near-copy")]


def test_story_groups_join_pages_that_share_figures_transitively() -> None:
    rows = [
        {"source_url": "a", "text": "破获案件735起，抓获1461人。"},
        {"source_url": "b", "text": "Police solved 735 cases and held 1,461 people; 3,102 posts were removed."},
        {"source_url": "c", "text": "清理有害信息3102条，抓获1461人。"},
        {"source_url": "d", "text": "A patrol boat watched the river crossing."},
        {"source_url": "a", "text": "第二段。"},
    ]
    groups = story_groups(rows)
    assert groups[0] == groups[1] == groups[2] == groups[4] != groups[3]


def test_labels_check_reports_a_planted_leak_with_exit_5(tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    rows = codebook_records()
    write_labelled(rows, gold)
    held = tmp_path / "held.jsonl"
    held.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in HELD_OUT) + "\n", encoding="utf-8")
    assert check_gold(gold, against=[held]).ok is False  # the seeds are missing from this file, not leaks
    assert not [p for p in check_gold(gold, against=[held]).problems if p.startswith("leak")]
    planted = json.dumps({"text": "Officials arrested 1,461 suspects after 735 cases were cracked.", "labels": [],
                          "source": "real", "doc": "real/x", "source_url": "http://other.example/z"})
    gold.write_text(gold.read_text(encoding="utf-8") + planted + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["labels", "check", "--gold", str(gold), "--against", str(held)])
    assert result.exit_code == 5
    leak_lines = [line for line in result.stderr.splitlines() if "leak into" in line]
    assert leak_lines == [f"problem: leak into {held}: row {len(rows) + 1} (f776b677832a8ab8): same story — shares "
                          f"1461, 735 with http://news.example/a; drop the row (and its page)"]
