"""Reader: every supported format and encoding round-trips to text; bad input is a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.errors import DecodeError, InputError
from conftest import tiny_pdf
from classifier.text.reader import RecordError, decode_bytes, iter_jsonl, read_document

ZH_HANS = "国家移民管理局部署打击妨害国（边）境管理违法犯罪，严厉打击偷渡活动。"
ZH_HANT = "國家移民管理局部署打擊妨害國（邊）境管理違法犯罪，嚴厲打擊偷渡活動。"


@pytest.mark.parametrize(
    ("text", "encoding", "detected"),
    [
        (ZH_HANS, "utf-8", "utf-8"),
        (ZH_HANS, "utf-8-sig", "utf-8-sig"),
        (ZH_HANS, "gbk", "gb18030"),
        (ZH_HANS, "gb18030", "gb18030"),
        (ZH_HANT, "big5", "big5"),
        (ZH_HANT, "utf-16", "utf-16"),
        (ZH_HANS + "\nPort of entry checks.", "utf-16-le", "utf-16-le"),
    ],
)
def test_text_encodings_are_detected(tmp_path: Path, text: str, encoding: str, detected: str) -> None:
    path = tmp_path / "doc.txt"
    path.write_bytes(text.encode(encoding))
    document = read_document(path)
    assert document.text == text
    assert document.encoding.replace("_", "-") == detected
    assert document.id == "doc"


def test_binary_file_is_refused_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01")
    with pytest.raises(InputError, match=r"image\.txt: looks like a binary file"):
        read_document(path)


def test_undecodable_bytes_are_a_decode_error() -> None:
    data = bytes(range(128, 256)) * 20
    with pytest.raises(DecodeError, match=r"x\.txt: cannot decode the text .* re-save it as UTF-8"):
        decode_bytes(data, source="x.txt")


def test_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"a" * 2048)
    with pytest.raises(InputError, match=r"big\.txt: file is 0\.0 MB, over the 0 MB limit"):
        read_document(path, max_bytes=1024)


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "sheet.xlsx"
    path.write_bytes(b"x")
    with pytest.raises(InputError, match=r"unsupported file type '\.xlsx'"):
        read_document(path)
    with pytest.raises(InputError, match=r"nope\.txt: cannot read the file"):
        read_document(tmp_path / "nope.txt")


def test_html_keeps_the_article_and_drops_scripts_and_navigation(tmp_path: Path) -> None:
    html = """<html><head><title>NIA briefing</title><script>var x = "tracking";</script></head>
    <body><nav><a href="/">Home</a> | <a href="/news">News</a></nav>
    <article><h1>NIA briefing</h1>
    <p>We have enhanced targeted inspections at border ports and adjusted inspection measures.</p>
    <p>We have strengthened border patrols, with drones watching mountain passes and ferry points.</p>
    </article><footer>Copyright 2024 Example. All rights reserved.</footer></body></html>"""
    path = tmp_path / "page.html"
    path.write_text(html, encoding="utf-8")
    document = read_document(path)
    assert document.title == "NIA briefing"
    assert "targeted inspections at border ports" in document.text
    assert "drones watching mountain passes" in document.text
    assert "tracking" not in document.text
    assert "Home" not in document.text


def test_docx_paragraphs_are_read(tmp_path: Path) -> None:
    import docx

    word = docx.Document()
    word.core_properties.title = "口岸查缉"
    word.add_paragraph("边检站加强对出入境人员和交通运输工具的检查。")
    word.add_paragraph("Police dogs assist inspections at the port.")
    path = tmp_path / "report.docx"
    word.save(path)
    document = read_document(path)
    assert document.title == "口岸查缉"
    assert document.text == "边检站加强对出入境人员和交通运输工具的检查。\n\nPolice dogs assist inspections at the port."


def test_corrupt_docx_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match=r"broken\.docx: not a readable \.docx file"):
        read_document(path)


def test_pdf_hard_wrapped_lines_are_joined_into_paragraphs(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(tiny_pdf(["Border police patrolled the mountain", "passes at night.", "", "A second paragraph."]))
    document = read_document(path)
    assert document.text == "Border police patrolled the mountain passes at night.\n\nA second paragraph."


def test_pdf_garbage_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\nthis is not a pdf body")
    with pytest.raises(InputError, match=r"broken\.pdf: "):
        read_document(path)


def test_jsonl_streams_records_and_reports_bad_lines_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "paras.jsonl"
    path.write_bytes(
        b'{"id": "a", "text": "first"}\n'
        b"\n"
        b"{not json}\n"
        b'["a list"]\n'
        b'{"text": ""}\n'
        b'\xff\xfe{"text": "latin"}\n'
        b'{"text": "last", "doc": "d1", "extra": 1}\n'
    )
    items = list(iter_jsonl(path))
    assert items[0] == (1, {"id": "a", "text": "first"})
    assert [str(i) for i in items[1:5]] == [
        f"{path}:3: invalid JSON (Expecting property name enclosed in double quotes, column 2); fix or delete the line",
        f"{path}:4: expected a JSON object with a 'text' field, found list",
        f"{path}:5: missing or empty 'text' field; every line needs the paragraph text",
        f"{path}:6: line is not UTF-8 (byte 1); re-save the file as UTF-8",
    ]
    assert all(isinstance(i, RecordError) for i in items[1:5])
    assert items[5] == (7, {"text": "last", "doc": "d1", "extra": 1})


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_are_never_taken_for_text(tmp_path: Path, seed: int) -> None:
    import random

    data = bytes(random.Random(seed).randrange(256) for _ in range(300)) + b"\x00"
    path = tmp_path / "noise.txt"
    path.write_bytes(data)
    with pytest.raises(InputError, match=r"noise\.txt: "):
        read_document(path)
