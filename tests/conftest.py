"""Shared fixtures: project paths, and a tiny bootstrapped workspace for the jobs and the session.

`store_target` is where a store test's store lives, once per backend: an SQLite file in
`tmp_path`, and a fresh schema of the PostgreSQL server named by `PMC_TEST_PG_DSN` (which
`.ci/run` starts). The postgres case skips only when no DSN is set — except under CI, where it
fails, so CI always runs both.

`ready` bootstraps once per test module (a small gold subset, no cross-validation, so it takes a
second or two): two seed documents and a sixth of the codebook examples are gold, the other
three seed documents (54 paragraphs) stay unlabelled for the queue.
"""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path

import pytest

from classifier.bootstrap import bootstrap
from classifier.labels.gold import LabelledParagraph, load_labelled
from classifier.store import open_store
from classifier.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DEVSET = ROOT.parent / "shared" / "devset" / "dev.jsonl"
LABELS = ("enforcement", "port_inspection", "border_patrol", "source_governance", "international_cooperation")
GOLD_DOCS = ("002_6ae7b0e59d7fc9d5", "004_db64a1ae7bdd72cb")


def small_gold() -> list[LabelledParagraph]:
    rows = load_labelled()
    return [r for r in rows if r.source == "codebook"][::6] + [r for r in rows if r.doc in GOLD_DOCS]


def app_gold() -> list[LabelledParagraph]:
    """The app tests' gold: a sixth of the codebook examples and one seed document."""
    rows = load_labelled()
    return [r for r in rows if r.source == "codebook"][::6] + [r for r in rows if r.doc == "002_6ae7b0e59d7fc9d5"]


def free_port() -> int:
    """A free TCP port on the loopback interface (for a test server)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_workspace(folder: Path, **options: object) -> tuple[Path, Path, dict]:
    db, registry = folder / "pmc.sqlite", folder / "models"
    report = bootstrap(db, registry=registry, gold=small_gold(), cv_repeats=0, **options)
    return db, registry, report


PG_DSN = os.environ.get("PMC_TEST_PG_DSN", "")


def pg_schema_url(dsn: str, schema: str) -> str:
    """The DSN with `search_path` set to `schema` (libpq's `options` in the URL)."""
    return f"{dsn}{'&' if '?' in dsn else '?'}options=-csearch_path%3D{schema}"


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(params=["sqlite", "postgres"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path):
    """An empty store location on each backend: a path, or a URL with its own schema."""
    if request.param == "sqlite":
        yield tmp_path / "pmc.sqlite"
        return
    if not PG_DSN:
        if os.environ.get("CI"):
            pytest.fail("CI must test PostgreSQL too: PMC_TEST_PG_DSN is not set (.ci/run starts a server)")
        pytest.skip("no PostgreSQL server: set PMC_TEST_PG_DSN (see .ci/postgres.sh)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    pg_admin(f"CREATE SCHEMA {schema}")
    try:
        yield pg_schema_url(PG_DSN, schema)
    finally:
        pg_admin(f"DROP SCHEMA {schema} CASCADE")


def raw_execute(target: Path | str, sql: str) -> None:
    """Run one statement on a store behind pmc's back (to check what the database itself refuses)."""
    if isinstance(target, str):
        import psycopg

        with psycopg.connect(target.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute(sql)
        return
    import sqlite3

    conn = sqlite3.connect(target)
    try:
        conn.execute(sql)
    finally:
        conn.close()


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return SEEDS


@pytest.fixture(scope="module")
def ready(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    return make_workspace(tmp_path_factory.mktemp("workspace"))


@pytest.fixture()
def store(ready: tuple[Path, Path, dict]):
    with open_store(ready[0]) as s:
        yield s


@pytest.fixture()
def registry(ready: tuple[Path, Path, dict]) -> Path:
    return ready[1]


@pytest.fixture()
def w(store, registry: Path) -> Workspace:
    return Workspace.of(store, registry)


def pdf_with_stream(stream: bytes, *, flate: bool = False) -> bytes:
    """A one-page PDF whose page content is `stream` (optionally Flate-compressed), written by hand
    (no PDF writer dependency)."""
    import zlib

    payload = zlib.compress(stream, 9) if flate else stream
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(payload)).encode() + (b" /Filter /FlateDecode" if flate else b"") + b" >>\nstream\n"
        + payload + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def tiny_pdf(lines: list[str]) -> bytes:
    """A one-page PDF with a text layer."""
    ops = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({line}) '" for line in lines) + " ET"
    return pdf_with_stream(ops.encode("latin-1"))
