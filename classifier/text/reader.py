"""Reading documents of every supported format into plain text, and JSONL paragraph files.

One entry point per input kind: `read_document()` turns a `.txt`/`.md`/`.html`/`.docx`/`.pdf`
file (or bytes with a name) into a `Document` — its id, title when the format carries one, and
its text with paragraph breaks as blank lines — ready for the segmenter. `iter_jsonl()` streams
a JSONL file of paragraphs line by line, yielding either a record or a `RecordError` for a bad
line, so a caller can report and skip it without losing the rest.

Text encodings are detected, never assumed: byte-order marks first, then strict UTF-8, then
charset-normalizer restricted to the encodings these documents come in (GB18030/GBK, Big5,
UTF-16, Windows-1252). Binary and undecodable files raise `InputError`/`DecodeError` naming
the file and the fix.
"""

from __future__ import annotations

import io
import json
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, Any

from ..errors import DecodeError, InputError

try:  # a core dependency; the standard library's parser is the reference either way
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None  # type: ignore[assignment]

__all__ = [
    "Document",
    "RecordError",
    "DOCUMENT_SUFFIXES",
    "DEFAULT_MAX_BYTES",
    "decode_bytes",
    "decode_text",
    "read_document",
    "read_document_bytes",
    "read_file_bytes",
    "read_stream_bytes",
    "iter_jsonl",
    "json_lines",
    "bounded_lines",
    "parse_json_line",
    "paragraph_record",
    "doc_id_for",
]

DOCUMENT_SUFFIXES = (".txt", ".md", ".text", ".html", ".htm", ".docx", ".pdf")
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
_MAX_JSONL_LINE = 1024 * 1024
_CANDIDATE_ENCODINGS = ["gb18030", "big5", "utf_16", "utf_16_le", "utf_16_be", "cp1252", "euc_kr", "cp949"]
_KOREAN = ("euc_kr", "cp949", "johab", "iso2022_kr")
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


@dataclass(frozen=True)
class Document:
    """A whole document as text: paragraphs separated by blank lines, lines by newlines."""

    id: str
    text: str
    title: str = ""
    source: str = ""
    format: str = "txt"
    encoding: str = "utf-8"
    warnings: tuple[str, ...] = ()  # e.g. bytes that were not UTF-8 and were replaced
    meta: tuple[tuple[str, str], ...] = ()  # what the file itself says: an HTML page's date, site name


@dataclass(frozen=True)
class RecordError:
    """A JSONL line that could not be used; `message` is one line saying what and how to fix."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


def doc_id_for(name: str) -> str:
    """A document id from a file name: the stem (`seeds/000_ab.txt` -> `000_ab`)."""
    return Path(name).stem or "stdin"


def read_file_bytes(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, name: str | None = None) -> bytes:
    """The bytes of a regular file, at most `max_bytes` of them; messages call it `name`
    (default the path: e.g. the name a user gave, where a worker opens its absolute path).

    Folders, FIFOs, devices (`/dev/zero`) and sockets are refused before anything is read, and
    at most `max_bytes` + 1 bytes are ever read, so a file that grows or lies about its size
    cannot exhaust memory.
    """
    path = Path(path)
    name = str(path) if name is None else name
    try:
        info = path.stat()
        mode = info.st_mode
    except OSError as exc:
        raise InputError(f"{name}: cannot read the file ({exc.strerror}); check the path") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{name}: is a directory; pass the files inside it (e.g. {name}/*.txt)")
    if not stat.S_ISREG(mode):
        raise InputError(f"{name}: not a regular file (a pipe, device or socket); save the text to a file first")
    _check_size(info.st_size, name, max_bytes)
    try:
        with path.open("rb") as handle:
            return read_stream_bytes(handle, name=name, max_bytes=max_bytes)
    except OSError as exc:
        raise InputError(f"{name}: cannot read the file ({exc.strerror}); check the path") from None


def read_stream_bytes(stream: IO[bytes], *, name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """At most `max_bytes` of a byte stream (stdin, a file); more is refused, never read whole."""
    data = stream.read(max_bytes + 1)
    _check_size(len(data), name, max_bytes)
    return data


def read_document(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, name: str | None = None) -> Document:
    """Read one document file of any supported format; `name` (default the path) is what the
    document and its messages are called."""
    name = str(path) if name is None else name
    return read_document_bytes(read_file_bytes(path, max_bytes=max_bytes, name=name), name=name, max_bytes=max_bytes)


def read_document_bytes(
    data: bytes, *, name: str, max_bytes: int = DEFAULT_MAX_BYTES, doc_id: str | None = None
) -> Document:
    """Read a document from bytes; the format is chosen by `name`'s suffix (default text)."""
    _check_size(len(data), name, max_bytes)
    suffix = Path(name).suffix.lower()
    doc = doc_id or doc_id_for(name)
    if suffix in (".html", ".htm"):
        text, encoding, warnings = decode_text(data, source=name)
        title, body, meta = _html_to_text(text, source=name)
        return Document(doc, body, title, name, "html", encoding, warnings, meta)
    if suffix == ".docx":
        title, body = _docx_to_text(data, source=name)
        return Document(doc, body, title, name, "docx", "zip")
    if suffix == ".pdf":
        title, body = _pdf_to_text(data, source=name)
        return Document(doc, body, title, name, "pdf", "pdf")
    if suffix not in ("", ".txt", ".md", ".text"):
        raise InputError(
            f"{name}: unsupported file type {suffix!r}; use one of "
            f"{', '.join(DOCUMENT_SUFFIXES)} or .jsonl"
        )
    text, encoding, warnings = decode_text(data, source=name)
    return Document(doc, text, "", name, "md" if suffix == ".md" else "txt", encoding, warnings)


def _check_size(size: int, name: str, max_bytes: int) -> None:
    if size > max_bytes:
        shown = "more than " if size == max_bytes + 1 else ""
        raise InputError(
            f"{name}: file is {shown}{size / 1_048_576:.1f} MB, over the {max_bytes / 1_048_576:.0f} MB "
            f"limit for one document; split it, or convert it to JSONL paragraphs (streamed)"
        )


_MAX_BROKEN_SHARE = 0.001  # at most 1 in 1,000 characters replaced when a file is "UTF-8 with a few broken bytes"


def decode_bytes(data: bytes, *, source: str) -> tuple[str, str]:
    """Decode text bytes, detecting the encoding; returns (text, encoding name)."""
    text, encoding, _ = decode_text(data, source=source)
    return text, encoding


def decode_text(data: bytes, *, source: str) -> tuple[str, str, tuple[str, ...]]:
    """`decode_bytes` plus warnings: (text, encoding, warnings).

    A file that is UTF-8 but for a few broken bytes (a truncated download, one bad copy) is read
    with the broken bytes replaced by U+FFFD, and a warning names the first offset; Korean
    (EUC-KR/CP949) is refused with its name rather than read as Chinese mojibake.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding, ()
            except UnicodeDecodeError:
                break
    if b"\x00" in data:
        utf16 = _try_utf16_without_bom(data)
        if utf16 is not None:
            return (*utf16, ())
        raise InputError(
            f"{source}: looks like a binary file (it contains NUL bytes), not text; "
            f"pass a .txt/.md/.html/.docx/.pdf document or a .jsonl file"
        )
    try:
        return data.decode("utf-8"), "utf-8", ()
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=_CANDIDATE_ENCODINGS).best()
    if best is not None and best.encoding in _KOREAN:
        raise DecodeError(
            f"{source}: looks like Korean text ({best.encoding}); pmc codes Chinese and English documents — "
            f"if it is Chinese, re-save it as UTF-8"
        )
    replaced = data.decode("utf-8", errors="replace")
    broken = replaced.count("\ufffd") - data.count("\ufffd".encode("utf-8"))
    if broken <= max(3, _MAX_BROKEN_SHARE * len(replaced)):
        return replaced, "utf-8", (
            f"{source}: {broken} byte sequence(s) are not UTF-8 (the first at byte {first_bad}); "
            f"they were replaced with \ufffd — check the file if text is missing",
        )
    if best is None or _mostly_control(str(best)):
        raise DecodeError(
            f"{source}: cannot decode the text as UTF-8, GB18030/GBK, Big5, UTF-16 or "
            f"Windows-1252; re-save it as UTF-8"
        )
    return str(best), best.encoding, ()


@cache  # compiled when a file is decoded: a big character class costs ~8 ms, paid by no JSONL run
def _expected_char() -> re.Pattern[str]:
    return re.compile(
        r"[\t\n\r\x20-\x7e\u00a0-\u024f\u2000-\u206f\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
        r"\uff00-\uffef]"
    )


_ASCII_CHAR = re.compile(r"[\t\n\r\x20-\x7e]")


def _try_utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    """UTF-16 without a BOM: the byte order whose decoding is (almost all) characters of the
    scripts these documents use — ASCII, Latin, CJK and their punctuation. The wrong order turns
    Chinese into scattered code points of other scripts, and binary data into anything."""
    if len(data) % 2:
        return None
    best: tuple[float, str, str] | None = None
    for encoding in ("utf-16-le", "utf-16-be"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        sample = text[:20000]
        if len(sample) < 16 or not _ASCII_CHAR.search(sample):  # a real text has a newline, a digit …
            continue
        share = len(_expected_char().findall(sample)) / len(sample)
        if share >= 0.95 and not _mostly_control(text, limit=0.01) and (best is None or share > best[0]):
            best = (share, text, encoding)
    return (best[1], best[2]) if best else None


@cache
def _text_char() -> re.Pattern[str]:
    return re.compile(r"[\w\s\u3000-\u303f\uff00-\uffef!-/:-@\[-`{-~\u2010-\u206f]")


def _plausible_text(text: str) -> bool:
    """Most characters are letters, Han, digits, spaces or punctuation (not random code units)."""
    sample = text[:4096]
    return bool(sample) and len(_text_char().findall(sample)) / len(sample) >= 0.9


def _mostly_control(text: str, *, limit: float = 0.05) -> bool:
    if not text:
        return False
    bad = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\t\n\r\f") or ch == "\ufffd")
    return bad / len(text) > limit


def _html_to_text(html: str, *, source: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    import trafilatura

    body = trafilatura.extract(
        html, include_comments=False, include_tables=True, favor_recall=True, with_metadata=False
    )
    if not body:
        raise InputError(
            f"{source}: no main text found in the HTML page; save the article text as .txt instead"
        )
    meta = trafilatura.extract_metadata(html)
    title = (meta.title or "").strip() if meta is not None else ""
    given = tuple((key, str(value).strip()) for key, value in (
        ("date", getattr(meta, "date", None)), ("publisher", getattr(meta, "sitename", None)),
    ) if value and str(value).strip())
    # trafilatura separates paragraphs by single newlines; the segmenter splits at those too.
    return title, body, given


_MAX_UNPACKED_BYTES = 100 * 1024 * 1024  # a docx whose parts unpack to more is refused unread
_MAX_UNPACK_RATIO = 100


def _check_zip_members(data: bytes, *, source: str) -> None:
    """Refuse a zip (docx) bomb before any part is decompressed: the members' declared sizes."""
    import zipfile

    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except zipfile.BadZipFile as exc:
        raise InputError(f"{source}: not a readable .docx file ({exc}); re-save it from Word") from None
    unpacked = sum(m.file_size for m in members)
    if unpacked > _MAX_UNPACKED_BYTES or unpacked > _MAX_UNPACK_RATIO * max(len(data), 1) + 10 * 1024 * 1024:
        raise InputError(
            f"{source}: the .docx unpacks to {unpacked / 1_048_576:.0f} MB from {len(data) / 1_048_576:.1f} MB "
            f"(a zip bomb, or a document far larger than its text); save the text as .txt instead"
        )


def _docx_to_text(data: bytes, *, source: str) -> tuple[str, str]:
    _check_zip_members(data, source=source)
    try:
        import docx  # python-docx
        from docx.opc.exceptions import PackageNotFoundError

        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise InputError(f"{source}: not a readable .docx file ({exc}); re-save it from Word") from None
    except Exception as exc:  # zipfile.BadZipFile and lxml errors have no common base
        raise InputError(f"{source}: not a readable .docx file ({exc}); re-save it from Word") from None
    title = (document.core_properties.title or "").strip()
    paragraphs = [p.text.strip() for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                paragraphs.append(" ".join(dict.fromkeys(cells)))
    return title, "\n\n".join(paragraphs)


_PDF_LINE_END = re.compile(r"[。！？；：:.!?;」”\"]\s*$")


def _pdf_to_text(data: bytes, *, source: str) -> tuple[str, str]:
    import logging
    import warnings

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings would reach stderr before pmc's line
    warnings.filterwarnings("ignore", module="pypdf")
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = str((reader.metadata or {}).get("/Title", "") or "").strip()
    except LimitReachedError as exc:  # pypdf's own decompression limits: a PDF bomb
        raise InputError(f"{source}: a stream of the PDF unpacks beyond pypdf's limits ({exc}); "
                         f"save the text as .txt instead") from None
    except (PyPdfError, ValueError, KeyError, OSError, RecursionError) as exc:
        raise InputError(f"{source}: not a readable PDF ({exc}); export it again as PDF or as text") from None
    text = "\n".join(pages)
    if not text.strip():
        raise InputError(
            f"{source}: the PDF has no text layer (scanned image?); run OCR first or paste the text"
        )
    return title, _unwrap_pdf_lines(text)


def _unwrap_pdf_lines(text: str) -> str:
    """Join a PDF's hard-wrapped lines back into paragraphs.

    A line that does not end a sentence is continued by the next line (without a space between
    two Han characters); a line ending with sentence punctuation, or a blank line, ends the
    paragraph.
    """
    out: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            if current:
                out.append(current)
                current = ""
            continue
        if current:
            joiner = "" if _is_han(current[-1]) and _is_han(line[0]) else " "
            current = f"{current}{joiner}{line}"
        else:
            current = line
        if _PDF_LINE_END.search(line):
            out.append(current)
            current = ""
    if current:
        out.append(current)
    return "\n\n".join(out)


def _is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def _bounded_lines(handle: IO[bytes], limit: int) -> Iterator[bytes | None]:
    """Lines of a byte stream, each read with at most `limit` + 1 bytes in memory; a longer
    line yields None (its rest is skipped in bounded pieces)."""
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while True:  # skip the rest of the overlong line without holding it
                more = handle.readline(limit + 1)
                if not more or more.endswith(b"\n"):
                    break
            yield None
            continue
        yield line


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number in JSON")


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def json_lines(
    stream: IO[bytes] | str | Path, *, source: str | None = None
) -> Iterator[tuple[int, Any] | RecordError]:
    """Every non-blank line of a JSONL file parsed, or a `RecordError` saying what is wrong with it.

    The one JSON-lines reader of pmc (classify, ingest, labels, answers): UTF-8 (a BOM on the
    first line is fine), at most 1 MB per line (read bounded, never whole), standard JSON only
    (no NaN/Infinity), no unpaired surrogates, no nesting deep enough to exhaust the parser.
    """
    name, handle, close = _open_lines(stream, source)
    try:
        for number, raw in enumerate(bounded_lines(handle), start=1):
            entry = parse_json_line(raw, number, name)
            if entry is not None:
                yield entry
    finally:
        if close:
            handle.close()


def _open_lines(stream: IO[bytes] | str | Path, source: str | None) -> tuple[str, IO[bytes], bool]:
    if isinstance(stream, (str, Path)):
        name = source or str(stream)
        try:
            return name, open(stream, "rb"), True  # noqa: SIM115 - the caller closes it
        except OSError as exc:
            raise InputError(f"{name}: cannot read the file ({exc.strerror}); check the path") from None
    return source or getattr(stream, "name", "<stdin>"), stream, False


def bounded_lines(handle: IO[bytes]) -> Iterator[bytes | None]:
    """The raw lines of a JSONL stream, each at most 1 MB (None for a longer one, skipped unread)."""
    return _bounded_lines(handle, _MAX_JSONL_LINE)


def _plain_record(value: Any) -> bool:
    """A JSON object whose values orjson and json read alike: strings, 64-bit ints, booleans, null."""
    return isinstance(value, dict) and all(type(v) in _PLAIN for v in value.values())


_PLAIN = (str, int, bool, type(None))


def parse_json_line(raw: bytes | None, number: int, name: str) -> tuple[int, Any] | RecordError | None:
    """One raw line of a JSONL file (from `bounded_lines`): None when blank, else `(number, value)`
    or a `RecordError`.

    Plain records (see `_plain_record`) without a \\u escape are parsed by orjson when it is
    installed; anything else — an escape that may be an unpaired surrogate, a float, a number
    beyond 64 bits, nesting, a BOM, broken UTF-8 or JSON — goes through the standard library's
    parser, whose value and message are the reference.
    """
    if raw is None:
        return RecordError(name, number, f"line is over {_MAX_JSONL_LINE // 1024} KB; split the paragraph")
    if not raw.strip():
        return None
    if _orjson is not None and b"\\u" not in raw:
        try:
            value = _orjson.loads(raw)
        except _orjson.JSONDecodeError:
            pass
        else:
            if _plain_record(value):
                return number, value
    try:
        line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        return RecordError(name, number, f"line is not UTF-8 (byte {exc.start + 1}); re-save the file as UTF-8")
    try:
        value = json.loads(line, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        return RecordError(name, number, f"invalid JSON ({exc.msg}, column {exc.colno}); fix or delete the line")
    except RecursionError:
        return RecordError(name, number, "JSON nested too deeply; flatten the record")
    except ValueError as exc:
        return RecordError(name, number, f"invalid JSON ({exc}); write null or a number instead")
    if _SURROGATE_ESCAPE.search(raw):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return RecordError(name, number, "contains an unpaired surrogate escape (like \\ud800); "
                                             "fix the text's encoding")
    return number, value


def paragraph_record(entry: tuple[int, Any] | RecordError, name: str) -> tuple[int, dict[str, Any]] | RecordError:
    """A parsed line as a paragraph record: a JSON object with a non-empty string `text`."""
    if isinstance(entry, RecordError):
        return entry
    number, record = entry
    if not isinstance(record, dict):
        return RecordError(name, number, f"expected a JSON object with a 'text' field, found {type(record).__name__}")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        return RecordError(name, number, "missing or empty 'text' field; every line needs the paragraph text")
    return number, record


def iter_jsonl(
    stream: IO[bytes] | str | Path, *, source: str | None = None
) -> Iterator[tuple[int, dict[str, Any]] | RecordError]:
    """Stream a JSONL file of paragraphs: yields `(line_number, record)` or a `RecordError` per bad line.

    Blank lines are skipped. A record must be a JSON object with a non-empty string `text`.
    Memory stays flat: one line is held at a time.
    """
    name = source or (str(stream) if isinstance(stream, (str, Path)) else getattr(stream, "name", "<stdin>"))
    for entry in json_lines(stream, source=source):
        yield paragraph_record(entry, name)
