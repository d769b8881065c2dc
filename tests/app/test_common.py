"""The app's text helpers: document- and user-supplied strings never become Markdown or HTML."""

from __future__ import annotations

from ui.common import esc, md


def test_md_escapes_links_images_emphasis_and_directives() -> None:
    assert md("![p](http://e/p.png) **b** [l](u) :red[x] #h a_b") == (
        "\\!\\[p\\]\\(http\\://e/p\\.png\\) \\*\\*b\\*\\* \\[l\\]\\(u\\) \\:red\\[x\\] \\#h a\\_b")
    assert md("边检站 查获 3 名") == "边检站 查获 3 名"


def test_esc_escapes_html() -> None:
    assert esc('<img src=x onerror="alert(1)">') == "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
