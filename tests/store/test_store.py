"""The annotation store: schema, ingest, append-only answers, derived labels, gold, models."""

from __future__ import annotations

import multiprocessing
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier import store as S
from classifier.store import schema
from classifier.text.segmenter import segment
from classifier.errors import LabelDataError, StaleAnswerError, StoreError
from classifier.labels.gold import LabelledParagraph, load_labelled, write_labelled
from classifier.text.paragraph import Paragraph, paragraph_id
from classifier.text.reader import Document
from classifier.labels.taxonomy import load_taxonomy
from conftest import raw_execute

LABELS = load_taxonomy().label_ids
DOC_A = Document(
    id="doc-a",
    title="Notice",
    text="国家移民管理局部署开展专项行动。\n\nBorder police stepped up patrols along the border.\n\nThe weather was fine.",
)
DOC_B = Document(id="doc-b", title="Report B", text="An unrelated opening line.\n\n国家移民管理局部署开展专项行动。")


@pytest.fixture
def store(store_target):
    """A fresh store on each backend (SQLite, and PostgreSQL when a server is configured)."""
    with S.open_store(store_target) as opened:
        yield opened


def _ids(store: S.Store) -> list[str]:
    return list(S.get_paragraphs(store))


def _add(store: S.Store, *texts: str, doc: str = "d") -> list[str]:
    paragraphs = [Paragraph(paragraph_id(t), doc, i, t, "en") for i, t in enumerate(texts)]
    S.ingest_paragraphs(store, paragraphs)
    return [p.id for p in paragraphs]


# --- opening, schema, bad files ------------------------------------------------------------


def test_a_new_store_is_wal_and_at_the_current_schema_version(tmp_path):
    path = tmp_path / "sub" / "pmc.sqlite"
    S.open_store(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == S.SCHEMA_VERSION == 5
    conn.close()
    with S.open_store(path) as again:  # reopening migrates nothing and keeps working
        assert again.schema_version == 5


def test_the_default_path_comes_from_pmc_db(tmp_path, monkeypatch):
    monkeypatch.setenv("PMC_DB", str(tmp_path / "from-env.sqlite"))
    with S.open_store() as opened:
        assert opened.path == tmp_path / "from-env.sqlite"
    assert (tmp_path / "from-env.sqlite").exists()


def test_a_file_that_is_not_sqlite_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_bytes(b"these are my notes, not a database\n" * 200)
    with pytest.raises(StoreError) as caught:
        S.open_store(path)
    assert str(caught.value) == (
        f"{path} is not a pmc store (file is not a database); pass another --db or move it away"
    )
    assert path.read_bytes().startswith(b"these are my notes")


def test_another_applications_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match=r"is an SQLite database but not a pmc store \(it has tables users\); pass another --db"):
        S.open_store(path)


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(StoreError, match="is a directory, not a pmc store; pass a file path with --db"):
        S.open_store(tmp_path)


def test_a_newer_schema_asks_to_upgrade_pmc(tmp_path):
    path = tmp_path / "pmc.sqlite"
    S.open_store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError) as caught:
        S.open_store(path)
    assert str(caught.value) == (
        f"{path} has store schema version 99, but this pmc only knows up to 5; "
        f"upgrade pmc (pip install -U policy-measure-classifier)"
    )


def test_migrations_run_in_order_on_an_older_store(tmp_path, monkeypatch):
    path = tmp_path / "pmc.sqlite"
    with S.open_store(path) as old:
        [pid] = _add(old, "Kept across the migration.")

    def add_reviews(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE reviews (note TEXT)")

    monkeypatch.setattr(schema, "_MIGRATIONS", [*schema._MIGRATIONS, add_reviews])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    with S.open_store(path) as migrated:
        assert migrated.schema_version == schema.SCHEMA_VERSION
        assert list(S.get_paragraphs(migrated)) == [pid]
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == 0
    conn.close()


def test_a_first_version_store_migrates_to_search_keys_and_one_record_of_the_active_model(tmp_path, monkeypatch):
    path = tmp_path / "v1.sqlite"
    with monkeypatch.context() as patch:
        patch.setattr(schema, "_MIGRATIONS", schema._MIGRATIONS[:1])
        patch.setattr(schema, "SCHEMA_VERSION", 1)
        with S.open_store(path) as old:
            conn = old._conn
            conn.execute("INSERT INTO paragraphs (paragraph_id, text, lang, overlap_key, shuffle_key, added_at) "
                         "VALUES ('p1', 'Ｂｏｒｄｅｒ  Police 邊檢站', 'mixed', 0.1, 0.2, 'now')")
            conn.execute("INSERT INTO models (version, path, card, active, registered_at) VALUES ('v1', 'x', '{}', 1, 'now')")
            conn.execute("INSERT INTO annotations (paragraph_id, annotator, answer, labels, created_at) "
                         "VALUES ('p1', 'ann', 'accept', '[]', 'now')")
    with S.open_store(path) as migrated:
        assert migrated.schema_version == S.SCHEMA_VERSION == 5
        key = migrated._conn.execute("SELECT search_key FROM paragraphs").fetchone()[0]
        assert key == "border police 边检站"
        assert S.list_model_versions(migrated) == [{"version": "v1", "path": "x", "card": {}, "registered_at": "now"}]
        assert [a.source for a in S.annotations_for(migrated, "p1")] == ["app"]


# --- documents and paragraphs ----------------------------------------------------------------


def test_reingesting_a_document_adds_no_paragraph(store):
    assert S.ingest_document(store, DOC_A, segment(DOC_A)) == {"doc": "doc-a", "paragraphs": 3, "new": 3, "existing": 0}
    assert S.ingest_document(store, DOC_A, segment(DOC_A)) == {"doc": "doc-a", "paragraphs": 3, "new": 0, "existing": 3}
    assert len(_ids(store)) == 3


def test_the_same_text_in_two_documents_is_one_paragraph_at_two_positions(store):
    S.ingest_document(store, DOC_A, segment(DOC_A))
    assert S.ingest_document(store, DOC_B, segment(DOC_B)) == {"doc": "doc-b", "paragraphs": 2, "new": 1, "existing": 1}
    shared = paragraph_id("国家移民管理局部署开展专项行动。")
    assert len(_ids(store)) == 4
    assert [(p.doc, p.index, p.title) for p in S.positions_of(store, shared)] == [
        ("doc-a", 0, "Notice"),
        ("doc-b", 1, "Report B"),
    ]
    first = S.get_paragraph(store, shared)
    assert (first.doc, first.index, first.lang) == ("doc-a", 0, "zh")


def test_ingest_paragraphs_keeps_section_and_speaker_and_checks_ids(store):
    text = "We will deepen cooperation with neighbouring countries."
    S.ingest_paragraphs(store, [Paragraph(paragraph_id(text), "pc", 4, text, "en", "Press", "Q&A", "Spokesman")])
    [stored] = S.positions_of(store, paragraph_id(text))
    assert (stored.doc, stored.index, stored.title, stored.section, stored.speaker) == ("pc", 4, "Press", "Q&A", "Spokesman")
    with pytest.raises(StoreError, match=r"paragraph pc:0 has id 'abc' but its text hashes to"):
        S.ingest_paragraphs(store, [Paragraph("abc", "pc", 0, text, "en")])


# --- answers ---------------------------------------------------------------------------------


def test_answers_are_append_only(store, store_target):
    [pid] = _add(store, "Border police stepped up patrols.")
    first_id = S.record_answer(store, pid, annotator="alice", answer="accept", labels=["border_patrol"])
    [first] = S.annotations_for(store, pid)
    second_id = S.record_answer(store, pid, annotator="alice", answer="accept", labels=[], note="changed my mind")
    rows = S.annotations_for(store, pid)
    assert [r.id for r in rows] == [first_id, second_id]
    assert rows[0] == first
    assert (rows[1].labels, rows[1].note) == ((), "changed my mind")
    S.set_gold(store, pid, labels=["border_patrol"], reviewer="rita")
    refused = [(f"UPDATE {t} SET note = 'edited'", t) for t in ("annotations", "gold")]
    refused += [(f"DELETE FROM {t}", t) for t in ("annotations", "gold")]
    if store.dialect == "postgresql":  # TRUNCATE fires no row trigger; its own trigger refuses it
        refused += [("TRUNCATE annotations", "annotations"), ("TRUNCATE gold", "gold"),
                    ("TRUNCATE gold, annotations CASCADE", "gold")]
    for statement, table in refused:
        with pytest.raises(Exception, match=f"{table} are append-only"):
            raw_execute(store_target, statement)
    assert [r.id for r in S.annotations_for(store, pid)] == [first_id, second_id]
    assert len(S.history(store, pid)) == 3


def test_an_answer_records_who_when_what_and_the_suggestion_shown(store):
    [pid] = _add(store, "Ports of entry tightened inspection.")
    S.record_answer(
        store, pid, annotator=" alice ", answer="accept", labels=["port_inspection", "enforcement"],
        model_version="m1", scores={"port_inspection": 0.8}, note="clear",
    )
    answer = S.last_answer(store, "alice")
    assert answer is not None
    assert (answer.annotator, answer.answer, answer.labels) == ("alice", "accept", ("enforcement", "port_inspection"))
    assert (answer.model_version, answer.scores, answer.note) == ("m1", {"port_inspection": 0.8}, "clear")
    assert answer.created_at.endswith("+00:00")


def test_bad_answers_are_refused_with_what_to_fix(store):
    [pid] = _add(store, "Some paragraph.")
    with pytest.raises(LabelDataError, match=r"unknown label 'smuggling'; expected one of enforcement, port_inspection"):
        S.record_answer(store, pid, annotator="alice", answer="accept", labels=["border_patrol", "smuggling"])
    with pytest.raises(LabelDataError, match=r"annotator is '  '; give a non-empty name"):
        S.record_answer(store, pid, annotator="  ", answer="accept", labels=[])
    with pytest.raises(LabelDataError, match=r"answer kind is 'maybe'; expected one of accept, skip, flag"):
        S.record_answer(store, pid, annotator="alice", answer="maybe", labels=[])
    with pytest.raises(LabelDataError, match=r"labels must be a list of label ids, found 'enforcement'"):
        S.record_answer(store, pid, annotator="alice", answer="accept", labels="enforcement")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match=r"unknown paragraph id 'nope'; ingest its document first"):
        S.record_answer(store, "nope", annotator="alice", answer="accept", labels=[])
    assert S.annotations_for(store, pid) == []


def test_last_answer_and_the_back_trail(store):
    a, b = _add(store, "First paragraph.", "Second paragraph.")
    assert S.last_answer(store, "alice") is None
    S.record_answer(store, a, annotator="alice", answer="accept", labels=[])
    S.record_answer(store, b, annotator="alice", answer="skip", labels=[])
    S.record_answer(store, a, annotator="bob", answer="accept", labels=["enforcement"])
    assert S.last_answer(store, "alice").paragraph_id == b
    S.record_answer(store, a, annotator="alice", answer="accept", labels=["enforcement"])  # Back to a
    assert [x.paragraph_id for x in S.answers_by(store, "alice")] == [a, b]
    assert S.answers_by(store, "alice")[0].labels == ("enforcement",)


# --- the derived label -----------------------------------------------------------------------


def _status(store: S.Store, pid: str) -> tuple:
    c = S.current_labels(store, [pid])[pid]
    return c.labels, c.status, c.n_annotators, c.disputed_labels


def test_current_label_from_one_or_more_annotators(store):
    [pid] = _add(store, "Patrols and port checks.")
    assert _status(store, pid) == ((), "unlabelled", 0, ())
    S.record_answer(store, pid, annotator="alice", answer="accept", labels=["border_patrol"])
    assert _status(store, pid) == (("border_patrol",), "labelled", 1, ())
    S.record_answer(store, pid, annotator="bob", answer="accept", labels=["border_patrol", "port_inspection"])
    assert _status(store, pid) == (("border_patrol",), "disputed", 2, ("port_inspection",))
    S.record_answer(store, pid, annotator="carol", answer="accept", labels=["port_inspection", "border_patrol"])
    assert _status(store, pid) == (("port_inspection", "border_patrol"), "labelled", 3, ())


def test_only_each_annotators_latest_answer_counts(store):
    [pid] = _add(store, "Patrols.")
    S.record_answer(store, pid, annotator="alice", answer="accept", labels=["border_patrol"])
    S.record_answer(store, pid, annotator="bob", answer="accept", labels=[])
    assert _status(store, pid)[1] == "disputed"
    S.record_answer(store, pid, annotator="bob", answer="accept", labels=["border_patrol"])
    assert _status(store, pid) == (("border_patrol",), "labelled", 2, ())
    S.record_answer(store, pid, annotator="bob", answer="skip", labels=[])  # bob withdraws
    assert _status(store, pid) == (("border_patrol",), "labelled", 1, ())
    assert len(S.annotations_for(store, pid)) == 4


def test_an_agreed_none_is_a_label(store):
    [pid] = _add(store, "The weather was fine.")
    S.record_answer(store, pid, annotator="alice", answer="accept", labels=[])
    S.record_answer(store, pid, annotator="bob", answer="accept", labels=[])
    assert _status(store, pid) == ((), "labelled", 2, ())


def test_flags_and_gold(store):
    [pid] = _add(store, "Unclear paragraph.")
    S.record_answer(store, pid, annotator="alice", answer="accept", labels=["enforcement"])
    S.record_answer(store, pid, annotator="bob", answer="flag", labels=[], note="is this enforcement?")
    assert _status(store, pid) == (("enforcement",), "flagged", 1, ())
    S.set_gold(store, pid, labels=["enforcement", "border_patrol"], reviewer="rev", note="both")
    assert _status(store, pid) == (("enforcement", "border_patrol"), "gold", 1, ())
    S.record_answer(store, pid, annotator="carol", answer="flag", labels=[], note="gold looks wrong")
    assert _status(store, pid)[:2] == (("enforcement", "border_patrol"), "flagged")
    S.set_gold(store, pid, labels=[], reviewer="rev")
    assert _status(store, pid)[:2] == ((), "gold")
    assert [type(e).__name__ for e in S.history(store, pid)] == [
        "Answer", "Answer", "GoldDecision", "Answer", "GoldDecision",
    ]


def test_gold_overrides_annotators_and_keeps_its_history(store):
    [pid] = _add(store, "Patrols.")
    S.record_answer(store, pid, annotator="alice", answer="accept", labels=["border_patrol"])
    S.record_answer(store, pid, annotator="bob", answer="accept", labels=[])
    first = S.set_gold(store, pid, labels=["border_patrol"], reviewer="rev", annotator="alice")
    assert _status(store, pid)[:2] == (("border_patrol",), "gold")
    S.set_gold(store, pid, labels=[], reviewer="rev2", note="on reflection")
    assert _status(store, pid)[:2] == ((), "gold")
    gold = [e for e in S.history(store, pid) if isinstance(e, S.GoldDecision)]
    assert [(g.id, g.labels, g.reviewer, g.annotator) for g in gold] == [
        (first, ("border_patrol",), "rev", "alice"), (first + 1, (), "rev2", "rev2"),
    ]
    with pytest.raises(LabelDataError, match=r"source is 'magic'; expected one of seed, codebook, real, annotation, review, import"):
        S.set_gold(store, pid, labels=[], reviewer="rev", source="magic")


# --- gold import / export --------------------------------------------------------------------


def test_the_shipped_gold_file_round_trips_and_reimport_adds_nothing(store, root, tmp_path):
    rows = load_labelled(root / "labels" / "gold.jsonl")
    assert S.import_gold(store, rows) == {
        "rows": len(rows), "added": len(rows), "unchanged": 0, "new_paragraphs": len(rows),
    }
    assert S.import_gold(store, rows) == {
        "rows": len(rows), "added": 0, "unchanged": len(rows), "new_paragraphs": 0,
    }
    exported = S.export_gold(store)
    assert [r.to_record() for r in exported] == [r.to_record() for r in rows]
    write_labelled(exported, tmp_path / "again.jsonl")
    assert (tmp_path / "again.jsonl").read_bytes() == (root / "labels" / "gold.jsonl").read_bytes()


def test_a_review_keeps_the_imported_group_and_extra_fields(store):
    row = LabelledParagraph(
        id=paragraph_id("边检站加强巡逻。"), doc="seed-1", index=3, lang="zh", text="边检站加强巡逻。",
        labels=("border_patrol",), annotator="ann-1", source="seed", note="n", group="g1",
        extra={"title": "标题", "url": "http://x"},
    )
    S.import_gold(store, [row])
    S.set_gold(store, row.id, labels=[], reviewer="rev", note="not a patrol", source="annotation")
    [out] = S.export_gold(store)
    assert out.to_record() == {
        "id": row.id, "doc": "seed-1", "index": 3, "lang": "zh", "text": "边检站加强巡逻。", "labels": [],
        "annotator": "rev", "source": "annotation", "note": "not a patrol", "group": "g1",
        "title": "标题", "url": "http://x",
    }


def test_import_refuses_unknown_labels_and_edited_text(store):
    good = LabelledParagraph(id=paragraph_id("Text."), doc="d", index=0, lang="en", text="Text.", labels=())
    bad_label = LabelledParagraph(id=good.id, doc="d", index=0, lang="en", text="Text.", labels=("smuggling",))
    with pytest.raises(LabelDataError, match=r"gold record 2 \(d:0, id .*\): unknown label 'smuggling'"):
        S.import_gold(store, [good, bad_label])
    edited = LabelledParagraph(id=good.id, doc="d", index=0, lang="en", text="Text, edited.", labels=())
    with pytest.raises(LabelDataError, match=r"id is not the hash of its text"):
        S.import_gold(store, [edited])
    assert S.export_gold(store) == []  # nothing half-imported


_CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
_LATIN = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TEXT = st.text(alphabet=st.one_of(_CJK, _LATIN, st.sampled_from(" ，。,.;；")), min_size=1, max_size=40).filter(
    lambda t: t.strip() != ""
)
_NAME = st.text(alphabet=st.one_of(_LATIN, _CJK, st.sampled_from("-_0123456789")), min_size=0, max_size=12)


@st.composite
def _gold_row(draw) -> LabelledParagraph:
    text = draw(_TEXT)
    return LabelledParagraph(
        id=paragraph_id(text),
        doc=draw(_NAME),
        index=draw(st.integers(min_value=0, max_value=500)),
        lang=draw(st.sampled_from(["zh", "zh-Hant", "en", "mixed", ""])),
        text=text,
        labels=tuple(x for x in LABELS if x in draw(st.sets(st.sampled_from(LABELS)))),
        annotator=draw(_NAME),
        source=draw(st.sampled_from(["seed", "codebook", "annotation", "import"])),
        note=draw(st.one_of(st.just(""), _TEXT)),
        group=draw(_NAME),
        extra=draw(st.dictionaries(st.sampled_from(["title", "url", "batch"]), _NAME, max_size=2)),
    )


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(_gold_row(), max_size=8, unique_by=lambda r: r.id))
def test_export_after_import_gives_the_same_records(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("roundtrip") / "pmc.sqlite"
    with S.open_store(path) as fresh:
        S.import_gold(fresh, rows)
        exported = S.export_gold(fresh)
        assert [r.to_record() for r in exported] == [r.to_record() for r in rows]
        assert [r.extra for r in exported] == [r.extra for r in rows]
        assert S.import_gold(fresh, exported)["added"] == 0


def test_gold_rows_are_gold_plus_undisputed_annotations(store):
    p_gold, p_one, p_agree, p_disputed, p_flagged, p_none = _add(
        store, "Gold one.", "One annotator.", "Two agree.", "Two disagree.", "Flagged.", "Nobody."
    )
    S.set_gold(store, p_gold, labels=["enforcement"], reviewer="rev")
    S.record_answer(store, p_one, annotator="bob", answer="accept", labels=["border_patrol"])
    for name in ("alice", "bob"):
        S.record_answer(store, p_agree, annotator=name, answer="accept", labels=[])
    S.record_answer(store, p_disputed, annotator="alice", answer="accept", labels=["enforcement"])
    S.record_answer(store, p_disputed, annotator="bob", answer="accept", labels=[])
    S.record_answer(store, p_flagged, annotator="alice", answer="flag", labels=[])
    rows = S.gold_rows(store)
    assert [(r.id, r.labels, r.source, r.annotator) for r in rows] == [
        (p_gold, ("enforcement",), "annotation", "rev"),
        (p_one, ("border_patrol",), "annotation", "bob"),
        (p_agree, (), "annotation", "alice,bob"),
    ]
    assert [(r.doc, r.index) for r in rows] == [("d", 0), ("d", 1), ("d", 2)]
    assert [r.id for r in S.export_gold(store)] == [p_gold]


# --- models, stats ---------------------------------------------------------------------------


def test_model_versions_are_a_log_without_an_active_flag(store):
    S.register_model(store, "m1", "data/models/m1", {"f1": 0.5})
    S.register_model(store, "m2", "data/models/m2", {"f1": 0.6})
    assert [(m["version"], m["path"], m["card"]) for m in S.list_model_versions(store)] == [
        ("m1", "data/models/m1", {"f1": 0.5}), ("m2", "data/models/m2", {"f1": 0.6}),
    ]
    assert all("active" not in m for m in S.list_model_versions(store))  # the registry's ACTIVE file says
    assert S.register_model(store, "m1", "data/models/m1", {"f1": 0.5})["version"] == "m1"  # idempotent
    with pytest.raises(StoreError, match=r"model version 'm1' is already registered with another path or card"):
        S.register_model(store, "m1", "elsewhere", {})


def test_progress_counts_statuses_labels_and_annotators(store):
    a, b, c, _ = _add(store, "A.", "B.", "C.", "D.")
    S.record_answer(store, a, annotator="alice", answer="accept", labels=["enforcement", "border_patrol"])
    S.record_answer(store, b, annotator="alice", answer="accept", labels=[])
    S.record_answer(store, b, annotator="bob", answer="accept", labels=["enforcement"])
    S.record_answer(store, c, annotator="bob", answer="skip", labels=[])
    S.set_gold(store, c, labels=["enforcement"], reviewer="rev")
    report = S.progress(store)
    assert {k: report[k] for k in ("paragraphs", "documents", "labelled", "share")} == {
        "paragraphs": 4, "documents": 1, "labelled": 2, "share": 0.5,
    }
    assert report["status"] == {"unlabelled": 1, "labelled": 1, "disputed": 1, "gold": 1, "flagged": 0}
    assert report["labels"] == {
        "enforcement": 2, "port_inspection": 0, "border_patrol": 1, "source_governance": 0,
        "international_cooperation": 0, "none": 0,
    }
    assert {n: (x["answers"], x["paragraphs"], x["accept"], x["skip"], x["flag"]) for n, x in report["annotators"].items()} == {
        "alice": (2, 2, 2, 0, 0), "bob": (2, 2, 1, 1, 0),
    }


# --- concurrency -----------------------------------------------------------------------------


def _answer_many(path: str, annotator: str, ids: list[str], rounds: int) -> None:
    with S.open_store(path, timeout=60) as own:
        for n in range(rounds):
            labels = [LABELS[n % len(LABELS)]] if n % 3 else []
            S.record_answer(own, ids[n % len(ids)], annotator=annotator, answer="accept", labels=labels, note=str(n))


def test_concurrent_writers_lose_nothing(store_target):
    path = store_target
    with S.open_store(path) as setup:
        ids = _add(setup, *(f"Paragraph number {i}." for i in range(10)))
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_answer_many, args=(str(path), f"w{k}", ids, 50)) for k in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    with S.open_store(path) as check:
        rows = [a for pid in ids for a in S.annotations_for(check, pid)]
        assert len(rows) == 200
        assert sorted((a.annotator, int(a.note)) for a in rows) == sorted(
            (f"w{k}", n) for k in range(4) for n in range(50)
        )


def test_racing_claims_on_one_paragraph_give_it_to_exactly_one_annotator(store_target):
    """The race a check-then-insert claim loses on PostgreSQL: 8 sessions (own connections,
    threads released in the same instant) claim the same paragraph, 30 times over."""
    import threading

    with S.open_store(store_target) as setup:
        ids = _add(setup, *(f"Contested paragraph {i}." for i in range(30)))
    stores = [S.open_store(store_target) for _ in range(8)]
    try:
        for pid in ids:
            barrier = threading.Barrier(len(stores))
            won: list[str] = []

            def claim(k: int) -> None:
                pool = S.Pool(annotator=f"a{k}")
                barrier.wait()
                if S.claim_paragraph(stores[k], pool, pid) is not None:
                    won.append(f"a{k}")

            threads = [threading.Thread(target=claim, args=(k,)) for k in range(len(stores))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert len(won) == 1, (pid, won)
            assert list(S.active_claims(stores[0])) == [pid]
        # The winner's token saves its answer once; nobody else's does.
        holder = S.active_claims(stores[0])[ids[-1]][0]
        claim = S.current_claim(stores[0], holder)
        S.record_answer(stores[0], ids[-1], annotator=holder, answer="accept", labels=[], token=claim.token)
        with pytest.raises(StaleAnswerError):
            S.record_answer(stores[1], ids[-1], annotator=holder, answer="accept", labels=[], token=claim.token)
    finally:
        for opened in stores:
            opened.close()


def test_document_metadata_can_be_corrected_and_bad_values_are_refused(store):
    _add(store, "A paragraph.")
    doc = S.list_documents(store)[0][0]
    meta = S.edit_document_meta(store, doc, {"date": "2022-07-07", "publisher": "Xinhua", "campaign": "kunlun"})
    assert (meta["date"], meta["publisher"], meta["campaigns"], meta["edited"]) == (
        "2022-07-07", "Xinhua", [{"id": "kunlun", "year": None}], ["campaign", "date", "publisher"])
    assert S.edit_document_meta(store, doc, {"publisher": ""}).get("publisher") is None  # empty removes
    with pytest.raises(StoreError, match=r"date 'July 7' of .* is not YYYY, YYYY-MM or YYYY-MM-DD"):
        S.edit_document_meta(store, doc, {"date": "July 7"})
    with pytest.raises(StoreError, match="cannot edit labels of"):
        S.edit_document_meta(store, doc, {"labels": "x"})
