"""The Streamlit app driven headless with `AppTest.from_file("app.py")`.

The store, registry and data folder live in tmp_path (`PMC_DB`, `PMC_MODELS_DIR`, `PMC_DATA_DIR`)
and are bootstrapped once per module with a small gold subset, so the app starts in a second.
"""

from __future__ import annotations

import re

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from classifier.annotate import session
from classifier.bootstrap import bootstrap
from classifier.workspace import Workspace
from classifier.labels.gold import load_labelled
from classifier.scoring.registry import active_version, list_models
from classifier.store import annotations_for, latest_gold, list_model_versions, open_store

pytestmark = pytest.mark.slow  # Streamlit AppTest: a second or more per test

APP = Path(__file__).resolve().parents[2] / "app.py"
TIMEOUT = 120
NOTE = (
    "边检机关加强口岸查缉\n\n"
    "边检站在口岸严格查验出入境人员证件，查获持伪假证件人员12名。\n\n"
    "公安机关侦破妨害国（边）境管理犯罪案件35起，抓获犯罪嫌疑人48名。\n\n"
    "移民管理机构与周边国家开展联合执法行动，遣返非法入境人员。\n"
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("app")
    rows = load_labelled()
    gold = [r for r in rows if r.source == "codebook"][::6] + [r for r in rows if r.doc == "002_6ae7b0e59d7fc9d5"]
    bootstrap(path / "pmc.sqlite", registry=path / "models", gold=gold, cv_repeats=0)
    return path


@pytest.fixture()
def env(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("PMC_DATA_DIR", str(folder))
    monkeypatch.setenv("PMC_DB", str(folder / "pmc.sqlite"))
    monkeypatch.setenv("PMC_MODELS_DIR", str(folder / "models"))
    yield folder


def start(page: str = "Label") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    if page != "Label":
        at.switch_page(f"ui/{page.lower()}.py").run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def visible(markdown: str) -> str:
    """What a reader sees of Markdown whose special characters the app escaped."""
    return re.sub(r"\\(.)", r"\1", markdown)


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def sign_in(at: AppTest, name: str) -> AppTest:
    at.text_input(key="annotator_input").set_value(name)
    button(at, "Start labelling").click()
    return at.run()


def test_label_a_paragraph_and_see_the_answer_in_the_store(env: Path) -> None:
    at = sign_in(start(), "tester")
    assert not at.exception
    item = at.session_state["item"]
    assert any('<h4 class="pmc-title">' in h.value for h in at.html)  # the title is escaped text, never Markdown
    boxes = {box.key: box for box in at.checkbox}
    assert len(boxes) == 5
    for key, box in boxes.items():
        assert box.value == any(key.endswith(f"_{label}") for label in item.suggested)  # pre-ticked
        box.uncheck()
    next(box for key, box in boxes.items() if key.endswith("_border_patrol")).check()
    at.button(key="save").click().run()
    assert not at.exception
    with open_store(env / "pmc.sqlite") as store:
        answer = annotations_for(store, item.paragraph_id)[-1]
    assert (answer.annotator, answer.answer, answer.labels) == ("tester", "accept", ("border_patrol",))
    assert answer.model_version == active_version(registry=env / "models")
    assert at.session_state["item"].paragraph_id != item.paragraph_id


def test_number_key_buttons_toggle_labels_and_back_reopens_the_answer(env: Path) -> None:
    at = sign_in(start(), "keys")
    first = at.session_state["item"]
    key = next(box.key for box in at.checkbox if box.key.endswith("_enforcement"))
    before = at.checkbox(key=key).value
    at.button(key="kbd_1").click().run()  # the hidden button behind the "1" shortcut
    assert at.checkbox(key=key).value is (not before)
    at.button(key="none").click().run()
    with open_store(env / "pmc.sqlite") as store:
        assert annotations_for(store, first.paragraph_id)[-1].labels == ()
    at.button(key="back").click().run()
    assert at.session_state["item"].paragraph_id == first.paragraph_id
    assert at.session_state["item"].previous_answer["labels"] == []
    assert not any(box.value for box in at.checkbox)
    assert "reopened to change your answer" in at.caption[0].value


def test_review_adjudicates_a_disagreement(env: Path) -> None:
    with open_store(env / "pmc.sqlite") as store:
        item = session.next_item(Workspace.of(store, env / "models"), "r1", strategy="document")
        session.save_answer(Workspace.of(store, env / "models"), item, annotator="r1", labels=["enforcement"])
        session.save_answer(Workspace.of(store, env / "models"), item, annotator="r2", labels=["enforcement", "international_cooperation"])
    pid = item.paragraph_id
    at = start()
    at.session_state["annotator"] = "lead"
    at.switch_page("ui/review.py").run()
    assert not at.exception
    at.selectbox(key="pick_disagreements").set_value(pid).run()
    for label in ("enforcement", "international_cooperation"):
        at.checkbox(key=f"adj_disagreements_{pid}_{label}").check()
    at.text_input(key=f"adj_disagreements_{pid}_note").set_value("joint operation abroad")
    at.button(key=f"adj_submit_disagreements_{pid}").click().run()
    assert not at.exception
    with open_store(env / "pmc.sqlite") as store:
        gold = latest_gold(store, [pid])[pid]
    assert (gold.labels, gold.reviewer, gold.source, gold.note) == (
        ("enforcement", "international_cooperation"), "lead", "review", "joint operation abroad")
    assert any(f"Gold set for {pid}" in s.value for s in at.success)


def test_retrain_creates_a_candidate_version_and_promote_activates_it(env: Path) -> None:
    registry = env / "models"
    before = {c["version"] for c in list_models(registry=registry)}
    at = start("Model")
    at.number_input(key="cv_repeats").set_value(0)
    at.button(key="retrain").click().run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    after = {c["version"] for c in list_models(registry=registry)}
    (candidate,) = after - before
    assert active_version(registry=registry) in before  # a candidate is never activated by training
    assert at.selectbox(key="compare_version").value == candidate  # shown for comparison right away
    with open_store(env / "pmc.sqlite") as store:
        assert candidate in {m["version"] for m in list_model_versions(store)}
    at.button(key="promote").click().run(timeout=TIMEOUT)
    assert not at.exception
    assert active_version(registry=registry) == candidate
    assert any(f"{candidate} is now the active model" in s.value for s in at.success)


def test_upload_shows_the_documents_profile(env: Path) -> None:
    at = start("Documents")
    at.file_uploader(key="uploader").set_value(("note.txt", NOTE.encode("utf-8"), "text/plain"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error
    assert any(visible(s.value).startswith("note.txt: 3 paragraphs (3 new), classified") for s in at.success)
    assert at.multiselect(key="docs").value[0] == "note"
    assert at.get("vega_lite_chart"), "the profile chart is drawn"
    at.selectbox(key="behind").set_value("enforcement").run()
    shown = [frame.value for frame in at.dataframe]
    assert any("侦破妨害国（边）境管理犯罪案件35起" in " ".join(map(str, df["text"])) for df in shown
               if "text" in df), "the paragraph behind the enforcement bar is listed"
    assert [b.label for b in at.get("download_button")] == ["CSV", "JSONL"]


def test_a_bad_upload_shows_an_error_not_a_traceback(env: Path) -> None:
    at = start("Documents")
    at.file_uploader(key="uploader").set_value(("x.txt", bytes(range(256)) * 4, "text/plain"))
    at.run()
    assert not at.exception
    assert [visible(e.value) for e in at.error] == [
        "x.txt: looks like a binary file (it contains NUL bytes), not text; pass a .txt/.md/.html/.docx/.pdf "
        "document or a .jsonl file"
    ]


def test_codebook_shows_both_languages_with_gold_examples(env: Path) -> None:
    at = start("Codebook")
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "**Definition**" in text and "**定义**" in text
    assert sum("Gold examples" in m.value for m in at.markdown) == 6  # five labels and "none"


def test_a_fresh_store_whose_seeds_are_all_gold_still_opens_on_a_suggestion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bootstrap(tmp_path / "pmc.sqlite", registry=tmp_path / "models", cv_repeats=0)  # the full gold file
    monkeypatch.setenv("PMC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PMC_DB", str(tmp_path / "pmc.sqlite"))
    monkeypatch.setenv("PMC_MODELS_DIR", str(tmp_path / "models"))
    at = sign_in(start(), "first-day")
    assert not at.exception, [e.value for e in at.exception]
    item = at.session_state["item"]
    assert item is not None
    assert set(item.scores) == {"enforcement", "port_inspection", "border_patrol", "source_governance",
                                "international_cooperation"}
    assert at.session_state["gold_fallback"] is True
