"""Teams on both backends: roles enforced in the library, the log of team actions, moving a
store between SQLite and PostgreSQL, and (PostgreSQL) an app role that cannot rewrite history."""

from __future__ import annotations

import uuid

import pytest

from classifier import store as S
from classifier.errors import AccessError, StoreError
from classifier.store import users as U
from classifier.store.postgres import init_database
from classifier.store.transfer import copy_store, table_counts
from classifier.text.paragraph import Paragraph, paragraph_id
from conftest import PG_DSN, pg_admin, pg_schema_url


@pytest.fixture
def store(store_target):
    with S.open_store(store_target) as opened:
        yield opened


def _add(store: S.Store, *texts: str, doc: str = "d") -> list[str]:
    paragraphs = [Paragraph(paragraph_id(t), doc, i, t, "en") for i, t in enumerate(texts)]
    S.ingest_paragraphs(store, paragraphs)
    return [p.id for p in paragraphs]


def _team(store: S.Store) -> None:
    U.add_user(store, "ada@example.org", role="admin", by="ada@example.org")
    U.add_user(store, "rev@example.org", role="reviewer", by="ada@example.org")
    U.add_user(store, "ann@example.org", role="annotator", by="ada@example.org")


def test_a_store_without_users_is_one_trusted_machine(store):
    assert not U.has_users(store)
    assert U.sign_in(store, " anyone ") == U.User("anyone", "admin", registered=False)
    [pid] = _add(store, "Border police stepped up patrols.")
    S.set_gold(store, pid, labels=["border_patrol"], reviewer="anyone")  # nobody to check against
    with pytest.raises(AccessError, match="^not signed in"):
        U.sign_in(store, "  ")


def test_roles_are_enforced_by_the_library_functions(store):
    _team(store)
    [pid] = _add(store, "Border police stepped up patrols.")
    S.record_answer(store, pid, annotator="ann@example.org", answer="accept", labels=["border_patrol"])
    with pytest.raises(AccessError) as caught:
        S.set_gold(store, pid, labels=[], reviewer="ann@example.org")
    assert str(caught.value) == (
        "ann@example.org is an annotator and may not adjudicate or see others' answers; that needs the "
        "reviewer role (`pmc users set-role`)"
    )
    S.set_gold(store, pid, labels=["border_patrol"], reviewer="rev@example.org")
    with pytest.raises(AccessError, match="^mallory is not a user of this pmc store and may not label paragraphs; "
                                          "ask an admin to run `pmc users add mallory --role annotator`$"):
        S.record_answer(store, pid, annotator="mallory", answer="accept", labels=[])
    with pytest.raises(AccessError, match="may not retrain, promote, roll back, upload or manage users"):
        U.authorize(store, "rev@example.org", "admin")
    U.authorize(store, "ada@example.org", "admin")
    U.authorize(store, U.SYSTEM, "admin")  # pmc's own first-start seeding
    assert [(a.annotator, a.labels) for a in S.annotations_for(store, pid)] == [("ann@example.org", ("border_patrol",))]
    assert S.latest_gold(store)[pid].reviewer == "rev@example.org"


def test_sign_in_refuses_unknown_and_disabled_users(store):
    _team(store)
    assert U.sign_in(store, "rev@example.org").role == "reviewer"
    with pytest.raises(AccessError, match="^eve@example.org is not a user of this pmc store"):
        U.sign_in(store, "eve@example.org")
    U.set_disabled(store, "ann@example.org", True, by="ada@example.org")
    with pytest.raises(AccessError, match="^ann@example.org is disabled on this pmc store"):
        U.sign_in(store, "ann@example.org")
    [pid] = _add(store, "Ports tightened checks.")
    with pytest.raises(AccessError, match="is disabled"):
        S.record_answer(store, pid, annotator="ann@example.org", answer="accept", labels=[])
    U.set_disabled(store, "ann@example.org", False, by="ada@example.org")
    assert U.sign_in(store, "ann@example.org").can("label")


def test_user_management_is_an_admins_and_keeps_one_admin(store):
    with pytest.raises(AccessError, match="^the first user of a store must be an admin"):
        U.add_user(store, "ann@example.org", role="annotator", by="ann@example.org")
    _team(store)
    with pytest.raises(AccessError, match="rev@example.org is a reviewer and may not"):
        U.add_user(store, "x@example.org", role="annotator", by="rev@example.org")
    with pytest.raises(AccessError, match="may not"):
        U.set_role(store, "ann@example.org", "admin", by="ann@example.org")  # nobody promotes themselves
    with pytest.raises(AccessError, match="^ada@example.org is the last enabled admin"):
        U.set_role(store, "ada@example.org", "annotator", by="ada@example.org")
    with pytest.raises(StoreError, match="already a user"):
        U.add_user(store, "rev@example.org", role="reviewer", by="ada@example.org")
    assert U.set_role(store, "rev@example.org", "admin", by="ada@example.org").role == "admin"
    assert [(u.name, u.role) for u in U.list_users(store)] == [
        ("ada@example.org", "admin"), ("ann@example.org", "annotator"), ("rev@example.org", "admin")]
    assert [(e["actor"], e["action"], e["subject"]) for e in U.events(store)] == [
        ("ada@example.org", "user.set-role", "rev@example.org"),
        ("ada@example.org", "user.add", "ann@example.org"),
        ("ada@example.org", "user.add", "rev@example.org"),
        ("ada@example.org", "user.add", "ada@example.org"),
    ]


def test_the_team_log_is_append_only(store, store_target):
    from conftest import raw_execute

    _team(store)
    for statement in ("UPDATE events SET actor = 'eve'", "DELETE FROM events"):
        with pytest.raises(Exception, match="events are append-only"):
            raw_execute(store_target, statement)


def _fill(store: S.Store) -> list[str]:
    _team(store)
    ids = _add(store, "Police cracked 35 cases.", "边检站查获偷渡人员5名。", "The weather was fine.", doc="a")
    _add(store, "边检站查获偷渡人员5名。", "A second document.", doc="b")
    S.record_answer(store, ids[0], annotator="ann@example.org", answer="accept", labels=["enforcement"], note="n1")
    S.record_answer(store, ids[1], annotator="ann@example.org", answer="skip", labels=[])
    S.set_gold(store, ids[0], labels=["enforcement"], reviewer="rev@example.org", note="settled")
    S.register_model(store, "v1", "/models/v1", {"labels": ["enforcement"]})
    S.write_scores(store, "v1", [(ids[0], {"enforcement": 0.9}, 0.4)])
    S.edit_document_meta(store, "a", {"date": "2024-07-05"})
    return ids


def _snapshot(store: S.Store) -> tuple:
    answers = [(a.id, a.paragraph_id, a.annotator, a.answer, a.labels, a.note, a.created_at, a.source)
               for a, *_ in S.all_answers(store)]
    gold = [(g.id, g.paragraph_id, g.labels, g.reviewer, g.note) for g in S.latest_gold(store).values()]
    docs = [row[:2] for row in S.list_documents(store)]
    return (answers, sorted(gold), docs, S.document_meta(store), S.read_scores(store, "v1"),
            [u.name for u in U.list_users(store)], [p.doc for p in S.positions_of(store, answers[1][1])])


@pytest.mark.skipif(not PG_DSN, reason="no PostgreSQL server: set PMC_TEST_PG_DSN")
def test_db_copy_round_trips_sqlite_to_postgres_and_back(tmp_path):
    source, back = tmp_path / "one.sqlite", tmp_path / "back.sqlite"
    schema = f"t_{uuid.uuid4().hex[:12]}"
    pg_admin(f"CREATE SCHEMA {schema}")
    url = pg_schema_url(PG_DSN, schema)
    try:
        with S.open_store(source) as one:
            _fill(one)
            expected, counts = _snapshot(one), table_counts(one)
        assert copy_store(source, url)["counts"] == counts
        with S.open_store(url) as team:
            assert _snapshot(team) == expected and table_counts(team) == counts
            # New rows continue after the copied ids.
            pid = S.all_answers(team)[0][0].paragraph_id
            new_id = S.record_answer(team, pid, annotator="rev@example.org", answer="accept", labels=[])
            assert new_id == max(a.id for a, *_ in S.all_answers(team)) == expected[0][-1][0] + 1
        with pytest.raises(StoreError, match="is not empty"):
            copy_store(source, url)
        copy_store(url, back)
        with S.open_store(back) as again:
            assert table_counts(again)["annotations"] == counts["annotations"] + 1
    finally:
        pg_admin(f"DROP SCHEMA {schema} CASCADE")


@pytest.mark.skipif(not PG_DSN, reason="no PostgreSQL server: set PMC_TEST_PG_DSN")
def test_the_app_role_cannot_update_delete_or_truncate_history():
    import psycopg

    tag = uuid.uuid4().hex[:8]
    database, owner, app = f"pmc_grants_{tag}", f"pmc_owner_{tag}", f"pmc_app_{tag}"
    pg_admin(f"CREATE ROLE {owner} NOLOGIN")
    pg_admin(f"CREATE ROLE {app} LOGIN PASSWORD 'app-secret'")
    pg_admin(f"CREATE DATABASE {database} OWNER {owner}")
    base = PG_DSN.rsplit("/", 1)[0]
    try:
        result = init_database(f"{base}/{database}", owner=owner, app_role=app)
        assert (result["owner"], result["app_role"], result["version"]) == (owner, app, S.SCHEMA_VERSION)
        app_url = base.replace("postgres@", f"{app}:app-secret@", 1) + f"/{database}"
        with S.open_store(app_url) as store:
            assert store.path == app_url.replace("app-secret", "***")
            [pid] = _add(store, "Border police stepped up patrols.")
            S.record_answer(store, pid, annotator="app-user", answer="accept", labels=["border_patrol"])
            S.set_gold(store, pid, labels=["border_patrol"], reviewer="app-user")
            S.edit_document_meta(store, "d", {"publisher": "NIA"})  # documents stay editable
        with psycopg.connect(app_url, autocommit=True) as conn:
            for statement in ("UPDATE annotations SET note = 'x'", "DELETE FROM gold", "TRUNCATE annotations",
                              "TRUNCATE gold", "ALTER TABLE annotations DISABLE TRIGGER ALL",
                              "DROP TRIGGER annotations_no_truncate ON annotations"):
                with pytest.raises(psycopg.Error, match="permission denied|must be owner"):
                    conn.execute(statement)
        with psycopg.connect(f"{base}/{database}", autocommit=True) as conn:  # even the owner's TRUNCATE
            conn.execute(f"SET ROLE {owner}")
            with pytest.raises(psycopg.Error, match="annotations are append-only"):
                conn.execute("TRUNCATE annotations")
            assert conn.execute("SELECT count(*) FROM annotations").fetchone()[0] == 1
    finally:
        pg_admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        pg_admin(f"DROP ROLE IF EXISTS {app}")
        pg_admin(f"DROP ROLE IF EXISTS {owner}")


def test_a_postgres_url_that_cannot_connect_says_so_without_the_password():
    with pytest.raises(StoreError) as caught:
        S.open_store("postgresql://pmc:secret@127.0.0.1:1/none", timeout=2)
    message = str(caught.value)
    assert message.startswith("postgresql://pmc:***@127.0.0.1:1/none: cannot connect (")
    assert message.endswith("check the URL, that the server runs and the role's password")
    assert "secret" not in message


def test_a_write_that_loses_a_race_for_a_lock_is_retried_then_reported():
    from classifier.store.connection import BusyError, retrying

    calls = []

    @retrying
    def flaky(fail: int) -> str:
        calls.append(1)
        if len(calls) <= fail:
            raise BusyError("pmc.sqlite is locked by another process (database is locked); close other pmc sessions or retry")
        return "saved"

    assert flaky(2) == "saved" and len(calls) == 3
    calls.clear()
    with pytest.raises(StoreError, match="is locked by another process") as caught:
        flaky(99)
    assert len(calls) == 5 and caught.value.exit_code == 7
