"""Turning a document's text into the paragraphs an annotator labels.

Rules, in order: lines are split at line breaks (blank or not); page chrome (navigation,
"Print E-mail", comment forms, share/follow lines, pagination, editor/source/copyright lines)
is dropped; bullets (•, -, 一是/二是, （一）/（二）) become paragraphs of their own; a speaker
or questioner line ("Liu Haitao:") is attached to the paragraph it introduces as `speaker`; a
leading headline becomes the document title instead of a paragraph, and a short
unpunctuated line before a paragraph becomes the `section` of the paragraphs under it; an overlong paragraph is
split at sentence boundaries (。！？； and English sentence ends) into balanced passages of
bounded length. Every paragraph gets its content id, document id, position, title and language.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .language import detect_language
from .paragraph import Paragraph, paragraph_id
from .reader import Document

__all__ = ["Block", "segment", "split_blocks", "split_sentences", "is_chrome", "MAX_PASSAGE_UNITS"]

# Passage bound in "units": a Han character counts 2.5, any other character 1, so the bound is
# about 800 English characters or 320 Chinese characters — one idea or two, as annotators read.
MAX_PASSAGE_UNITS = 800
_HAN_UNITS = 2.5
_CHROME_MAX_LEN = 320

_CHROME_LINE = re.compile(
    r"""(?ix)^(?:
        latest|share|print|e-?mail|comments?|related(?:\s+(?:news|stories|articles))?|more|top
      | back\s+to\s+top|home|next|previous|prev|no\s+comments\.?|add\s+your\s+comments\.*
      | your\s+comment|user\s+name(?:\s+required)?|enter\s+the\s+words\s+you\s+see:?
      | adjust\s+font\s+size:?|font\s+size:?|subscribe|newsletter|rss|mobile
      | 分享|分享到.*|分享缩略图|打印|关闭|打印本页|关闭窗口|返回顶部|返回|收藏|扫一扫.*|字号.*
      | 上一篇.*|下一篇.*|上一页|下一页|首页|尾页|相关(?:新闻|阅读|链接)|点击(?:查看|进入).*
      | [<‹«]?\s*\d(?:\s*\d)+\s*[>›»]?         # pagination "< 1 2 3 >" (one digit per step: linear)
      | 第\s*\d+\s*页.*
      | [\W_]+                                 # lone punctuation or symbols
    )$""",
)
_CHROME_ANYWHERE = re.compile(
    r"""(?ix)
        print\s*e-?mail|comment\(s\)|bookmark\s+and\s+share|\bapp\s+download\b
      | follow\s+\S+(?:\s+\S+)?\s+on\s+(?:twitter|facebook|wechat|weibo)
      | copyright|©|all\s+rights\s+reserved|racist,\s+abusive|send\s+your\s+stories
      | get\s+more\s+from|responsible\s+editor|^\s*edit(?:ed\s+by|or)?\s*[:：]
      | special\s+statement|recommended\s+reading|infringe\s+your|^\s*\(?\s*(?:editor|source|reporter|translated\s+by)\s*[:：]
      | 版权所有|责任编辑|^\s*[(（]?\s*(?:编辑|来源|作者|记者|审核|校对|供稿)\s*[:：]
      | 【\s*(?:打印|关闭|纠错)\s*】|微信扫一扫|分享至|转载请注明
    """,
)
_SPEAKER = re.compile(r"^(?P<name>[^。．.!?！？:：\n]{1,40})[:：]\s*$")
_BULLET_SYMBOL = re.compile(r"^\s*(?:[•·●○■□◆◇▪▫‣⁃►▶*]|[-–—](?=\s))\s*")
_MARKDOWN_HEADING = re.compile(r"^\s*#{1,6}\s+")
_ORDINAL = r"(?:[一二三四五六七八九十]{1,2}是|[（(][一二三四五六七八九十]{1,2}[）)])"
_INLINE_ORDINAL = re.compile(
    r"(?:(?<=[。；;：:！？!?\s])|^)(?=(?:[一二三四五六七八九十]{1,2}是|[（(][一二三四五六七八九十]{1,2}[）)]))"
)
# Each alternative starts only at the start of a run of end marks and takes the run whole
# (possessive), so a long run of dots is one attempt, not one per position: linear time.
_SENTENCE_END = re.compile(
    r"(?=[。！？；.!?])"  # a lookahead on one class lets the engine skip text without end marks fast
    r"(?:(?<![。！？；])[。！？；]++[”」』’\"）)]*+"
    r"|(?<![.!?])(?<!\b[A-Z])(?<!\bNo)(?<!\bMr)(?<!\bMs)(?<!\bDr)(?<!\bSt)[.!?]++[”’\"')]*+"
    r"(?=\s+[\"“‘(]?[A-Z0-9]|\s*$))"
)
_ENDS_A_SENTENCE = re.compile(r"[.!?。！？][”’\"')）」]*\s*$")
_CLAUSE_END = re.compile(r"(?<=[，,、：:])\s*")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LEAD_IN_MAX = 15
_HEADING_MAX_UNITS = 60


@dataclass(frozen=True)
class Block:
    """A line of document text after chrome removal, with what introduces it."""

    text: str
    speaker: str = ""
    bullet: bool = False


def segment(document: Document, *, max_units: int = MAX_PASSAGE_UNITS) -> list[Paragraph]:
    """Split a document into labelled-unit paragraphs (see the module docstring for the rules)."""
    blocks = split_blocks(document.text)
    title = document.title.strip()
    if title and blocks and _same_text(blocks[0].text, title):
        blocks = blocks[1:]
    elif not title and len(blocks) > 1 and _is_plain(blocks[0]) and _looks_like_headline(blocks[0].text):
        title = blocks[0].text
        # A headline that is a whole sentence, or an English line longer than a headline runs
        # (an opening sentence that lost its full stop), is also text to label.
        if not _ENDS_A_SENTENCE.search(title) and not _too_long_for_a_headline(title):
            blocks = blocks[1:]
    paragraphs: list[Paragraph] = []
    section = ""
    for position, block in enumerate(blocks):
        following = blocks[position + 1] if position + 1 < len(blocks) else None
        if _is_plain(block) and following is not None and _looks_like_heading(block.text):
            section = block.text
            continue
        for passage in _split_long(block.text, max_units):
            paragraphs.append(
                Paragraph(
                    id=paragraph_id(passage),
                    doc=document.id,
                    index=len(paragraphs),
                    text=passage,
                    lang=detect_language(passage),
                    title=title,
                    section=section,
                    speaker=block.speaker,
                )
            )
    return paragraphs


def split_blocks(text: str) -> list[Block]:
    """Lines and bullet items as blocks, chrome dropped, speaker lines attached to the next."""
    blocks: list[Block] = []
    speaker = ""
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        bullet = bool(_BULLET_SYMBOL.match(raw)) and bool(raw.strip())
        line = _clean_line(raw)
        if not line or is_chrome(line):
            continue
        match = _SPEAKER.match(line)
        if match:
            speaker = match.group("name").strip()
            continue
        items = list(_split_inline_bullets(line))
        for item in items:
            blocks.append(Block(item, speaker, bullet or len(items) > 1))
            speaker = ""
    return blocks


def is_chrome(line: str) -> bool:
    """True for a line of page furniture rather than document text."""
    line = line.strip()
    if len(line) > _CHROME_MAX_LEN:
        return False
    return bool(_CHROME_LINE.match(line) or _CHROME_ANYWHERE.search(line))


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph, ending punctuation kept, whitespace between them dropped."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        sentences.append(text[start : match.end()])
        start = match.end()
    sentences.append(text[start:])
    return [s.strip() for s in sentences if s.strip()]


def _clean_line(raw: str) -> str:
    line = raw.replace("\ufeff", "").replace("\u00a0", " ").strip(" \t\u3000")
    line = _MARKDOWN_HEADING.sub("", line)
    line = _BULLET_SYMBOL.sub("", line)
    return line.strip()


def _split_inline_bullets(line: str) -> Iterator[str]:
    if len(_INLINE_ORDINAL.findall(line)) < 2:
        # Fewer than two ordinals: "一是" in running text is not a list.
        yield line
        return
    parts = [p.strip() for p in _INLINE_ORDINAL.split(line) if p.strip()]
    if len(parts) > 1 and len(parts[0]) <= _LEAD_IN_MAX and not re.match(_ORDINAL, parts[0]):
        parts = [parts[0] + parts[1], *parts[2:]]
    yield from parts


def _units(text: str) -> float:
    han = len(_HAN.findall(text))
    return han * _HAN_UNITS + (len(text) - han)


def _split_long(text: str, max_units: int) -> list[str]:
    total = _units(text)
    if total <= max_units:
        return [text]
    pieces = [
        chunk
        for sentence in split_sentences(text)
        for clause in _split_clauses(sentence, max_units)
        for chunk in _hard_wrap(clause, max_units)
    ]
    target = total / math.ceil(total / max_units)
    passages: list[str] = []
    current: list[str] = []
    size = 0.0
    for piece in pieces:
        units = _units(piece)
        if current and (size + units > max_units or size >= target):
            passages.append(_join(current))
            current, size = [], 0.0
        current.append(piece)
        size += units
    if current:
        passages.append(_join(current))
    return passages


def _split_clauses(sentence: str, max_units: int) -> list[str]:
    if _units(sentence) <= max_units:
        return [sentence]
    return [c for c in _CLAUSE_END.split(sentence) if c.strip()]


def _hard_wrap(piece: str, max_units: int) -> list[str]:
    """Last resort for a clause with no punctuation: cut at the last space (or character) in bound.

    Linear in the clause: a cursor walks the text once, and each chunk's size in units comes
    from running sums, never from rescanning what is left.
    """
    if _units(piece) <= max_units:
        return [piece]
    han_before = _han_prefix(piece)  # han_before[i]: Han characters in piece[:i]
    n = len(piece)

    def units(a: int, b: int) -> float:
        han = han_before[b] - han_before[a]
        return han * _HAN_UNITS + (b - a - han)

    chunks: list[str] = []
    start = 0
    while start < n and piece[start].isspace():
        start += 1
    while start < n and units(start, n) > max_units:
        rest_has_han = han_before[n] - han_before[start] > 0
        cut = start + int(max_units / (_HAN_UNITS if rest_has_han else 1))
        space = piece.rfind(" ", start, cut)
        cut = space if space - start > (cut - start) // 2 else cut
        chunks.append(piece[start:cut].strip())
        start = cut
        while start < n and piece[start].isspace():
            start += 1
    tail = piece[start:].strip()
    return [*chunks, tail] if tail else chunks


def _han_prefix(text: str) -> list[int]:
    """Running count of Han characters (the ranges of `_HAN`), vectorised over the code points."""
    import numpy as np

    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    han = ((codes >= 0x3400) & (codes <= 0x9FFF)) | ((codes >= 0xF900) & (codes <= 0xFAFF))
    return [0, *np.cumsum(han, dtype=np.int64).tolist()]


def _join(pieces: list[str]) -> str:
    out = pieces[0]
    for piece in pieces[1:]:
        sep = "" if _HAN.match(piece[:1]) or _HAN.search(out[-1:]) or out[-1:] in "。！？；，、" else " "
        out += sep + piece
    return out


def _is_plain(block: Block) -> bool:
    return not block.speaker and not block.bullet


def _looks_like_heading(text: str) -> bool:
    """A short line with no sentence punctuation: a section heading, not a paragraph."""
    return _units(text) <= _HEADING_MAX_UNITS and not re.search(r"[。！？；.!?;]", text)


def _looks_like_headline(text: str) -> bool:
    """One short sentence with no sentence punctuation inside it."""
    limit = 80 if _HAN.search(text) and detect_language(text) != "en" else 200
    if len(text) > limit or text.endswith("。"):
        return False
    return len(split_sentences(text)) == 1 and not re.search(r"[。！？；;]\s*\S", text)


_HEADLINE_MAX_WORDS = 16


def _too_long_for_a_headline(text: str) -> bool:
    """English headlines run to about a dozen words; a longer first line is a sentence."""
    return not _HAN.search(text) and len(text.split()) > _HEADLINE_MAX_WORDS


def _same_text(a: str, b: str) -> bool:
    return re.sub(r"\W+", "", a).lower() == re.sub(r"\W+", "", b).lower()
