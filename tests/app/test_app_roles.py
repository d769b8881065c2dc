"""Roles in the app (AppTest): a team store with an admin, a reviewer and an annotator.

The frame signs people in before any page runs: the navigation holds only the pages the role
opens, an unknown or disabled name sees the sign-in screen and no paragraph text, and the
identity the pages act as is the signed-in one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from classifier.bootstrap import bootstrap
from classifier.store import get_paragraphs, latest_gold, open_store, record_answer
from classifier.store.users import add_user, set_disabled
from conftest import app_gold

pytestmark = pytest.mark.slow

APP = Path(__file__).resolve().parents[2] / "app.py"
TIMEOUT = 120


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("roles")
    gold = app_gold()
    bootstrap(path / "pmc.sqlite", registry=path / "models", gold=gold, cv_repeats=0)
    with open_store(path / "pmc.sqlite") as store:
        add_user(store, "ada", role="admin", by="ada")
        add_user(store, "rev", role="reviewer", by="ada")
        add_user(store, "ann", role="annotator", by="ada")
        add_user(store, "gone", role="annotator", by="ada")
        set_disabled(store, "gone", True, by="ada")
    return path


@pytest.fixture()
def env(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("PMC_DATA_DIR", str(folder))
    monkeypatch.setenv("PMC_DB", str(folder / "pmc.sqlite"))
    monkeypatch.setenv("PMC_MODELS_DIR", str(folder / "models"))
    monkeypatch.delenv("PMC_AUTH", raising=False)
    yield folder


def run_as(name: str | None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if name is not None:
        at.query_params["annotator"] = name
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts_shown(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [h.value for h in at.html] + [t.value for t in at.title]
    parts += [e.value for e in at.error] + [i.value for i in at.info]
    return "\n".join(str(p) for p in parts)


def test_signed_out_unknown_and_disabled_people_see_no_paragraph_text(env: Path) -> None:
    with open_store(env / "pmc.sqlite") as store:
        texts = [p.text for p in get_paragraphs(store).values()]
    for name, message in ((None, ""), ("mallory", "mallory is not a user of this pmc store"),
                          ("gone", "gone is disabled on this pmc store")):
        at = run_as(name)
        shown = texts_shown(at)
        assert [t.value for t in at.title] == ["Sign in"]
        assert message in shown
        assert not at.get("bidi_component")  # no answer form
        assert not any(text[:40] in shown for text in texts)  # and no paragraph text anywhere


def test_each_role_gets_only_its_pages(env: Path) -> None:
    for name, pages in (("ann", ["analysis", "codebook", "documents", "label"]),
                        ("rev", ["analysis", "codebook", "documents", "label", "review"]),
                        ("ada", ["analysis", "codebook", "documents", "label", "model", "review"])):
        at = run_as(name)
        assert sorted(at.session_state["pmc_pages"]) == pages, name
        assert at.get("bidi_component"), name  # everyone can label
    at = run_as("ann")
    for page in ("ui/review.py", "ui/model.py"):  # not registered at all, so no URL reaches them
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)
    at = run_as("ann")
    at.switch_page("ui/documents.py").run()
    assert not at.exception and not at.get("file_uploader")  # uploads are an admin's


def test_a_reviewer_adjudicates_as_themselves(env: Path) -> None:
    with open_store(env / "pmc.sqlite") as store:
        pid = next(iter(p for p in get_paragraphs(store) if p not in latest_gold(store)))
        record_answer(store, pid, annotator="ann", answer="accept", labels=["enforcement"])
        record_answer(store, pid, annotator="ada", answer="accept", labels=[])
    at = run_as("rev")
    at.switch_page("ui/review.py").run()
    assert not at.exception
    at.selectbox(key="pick_disagreements").set_value(pid).run()
    at.checkbox(key=f"adj_disagreements_{pid}_enforcement").check()
    at.button(key=f"adj_submit_disagreements_{pid}").click().run()
    assert not at.exception
    with open_store(env / "pmc.sqlite") as store:
        gold = latest_gold(store, [pid])[pid]
    assert (gold.labels, gold.reviewer) == (("enforcement",), "rev")
