"""Dates in Chinese and English text, datelines, and the year of a day-only date."""

from __future__ import annotations

from pathlib import Path

from classifier.text.dates import find_dates, publication_date, years_in
from classifier.text.reader import read_document

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def _iso(text: str, year: int | None = None) -> list[str]:
    return [d.iso() for d in find_dates(text, year=year)]


def test_full_dates_in_both_languages() -> None:
    assert _iso("2024年7月5日，国家移民管理局通报；2023 年 12 月 1 日起施行") == ["2024-07-05", "2023-12-01"]
    assert _iso("On 3 June 2023 and September 11, 2024, then Sept. 4, 2021 and 2022-07-07.") == [
        "2023-06-03", "2024-09-11", "2021-09-04", "2022-07-07"]


def test_day_only_dates_take_the_documents_year_and_say_so() -> None:
    (wire,) = find_dates("新华社北京7月5日电 记者获悉", year=2024)
    assert (wire.iso(), wire.inferred, wire.dateline) == ("2024-07-05", True, True)
    (english,) = find_dates("China News Service, July 7th. According to the NIA", year=None)
    assert (english.iso(), english.inferred, english.dateline) == ("--07-07", False, True)
    assert _iso("On July 22, the NIA held a meeting", 2025) == ["2025-07-22"]


def test_what_is_not_a_date() -> None:
    assert _iso("We may 20 people; 2024-02-30 is no day; 13月5日; 2月30日") == []
    assert _iso("2024-02-29 and 2月29日") == ["2024-02-29", "--02-29"]


def test_the_year_of_a_document_is_its_campaigns_year_first() -> None:
    assert years_in(['special operation "Mole Hunting-2025" was held', "in 2023 and 2023 and 2023"]) == 2025
    assert years_in(["2023年，2023年，2024年"]) == 2023
    assert years_in(["no year here"]) is None


def test_the_seeds_publication_dates() -> None:
    def dated(name: str) -> str | None:
        lines = [line.strip() for line in read_document(SEEDS / name).text.splitlines() if line.strip()]
        found = publication_date(lines)
        return None if found is None else found.iso() + (" inferred" if found.inferred else "")

    assert dated("000_24ba927b92883e99.txt") == "2025-07-22 inferred"  # "On July 22" + Mongoose Hunting-2025
    assert dated("003_068763a167a86ed9.txt") == "2024-09-11"  # China.org.cn, September 11, 2024
    assert dated("004_db64a1ae7bdd72cb.txt") == "--07-07"  # "China News Service, July 7th": no year in the text
