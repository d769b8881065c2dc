"""The Streamlit app driven headless with `AppTest.from_file("app.py")`.

The store, registry and data folder live in tmp_path (`PMC_DB`, `PMC_MODELS_DIR`, `PMC_DATA_DIR`)
and are bootstrapped once per module with a small gold subset, so the app starts in a second.
"""

from __future__ import annotations

import json
import re

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from classifier import background
from classifier.annotate import session
from classifier.bootstrap import bootstrap
from classifier.workspace import Workspace
from classifier.labels.gold import load_labelled
from classifier.scoring.registry import active_version, list_models
from classifier.store import current_claim, latest_gold, list_model_versions, open_store, record_answer
from conftest import LABELS, app_gold

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
    gold = app_gold()
    bootstrap(path / "pmc.sqlite", registry=path / "models", gold=gold, cv_repeats=0)
    return path


@pytest.fixture()
def env(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("PMC_DATA_DIR", str(folder))
    monkeypatch.setenv("PMC_DB", str(folder / "pmc.sqlite"))
    monkeypatch.setenv("PMC_MODELS_DIR", str(folder / "models"))
    yield folder


def start(page: str = "Label", *, as_user: str | None = "tester") -> AppTest:
    """The app on `page`, signed in (typed-name mode) as `as_user`, or signed out with None."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if as_user is not None:
        at.query_params["annotator"] = as_user
    at.run()
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
    at.text_input(key="signin_name").set_value(name)
    button(at, "Start labelling").click()
    return at.run()


def form(at: AppTest) -> dict:
    """What the Label page gave its answer form (the browser component) to show."""
    (element,) = at.get("bidi_component")
    return json.loads(element.proto.json)


def test_the_label_form_shows_the_claimed_paragraph_with_its_token(env: Path) -> None:
    at = sign_in(start(as_user=None), "tester")
    assert not at.exception
    item = at.session_state["item"]
    data = form(at)
    assert (data["paragraph_id"], data["token"]) == (item.paragraph_id, item.token) and item.token
    with open_store(env / "pmc.sqlite") as store:
        claim = current_claim(store, "tester")
    assert (claim.paragraph_id, claim.token) == (item.paragraph_id, item.token)  # what a submission must name
    assert [x["id"] for x in data["labels"]] == list(LABELS) and [x["key"] for x in data["labels"]] == ["1", "2", "3", "4", "5"]
    assert data["prefill"] == list(item.suggested)
    assert all(x["p"] == pytest.approx(item.scores[x["id"]]) for x in data["labels"])
    assert any('<h4 class="pmc-title">' in h.value for h in at.html)  # the title is escaped text, never Markdown
    assert at.query_params["annotator"] == "tester"  # in the URL, so a reload keeps it


def test_a_reload_keeps_the_annotator(env: Path) -> None:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["annotator"] = "reloaded"
    at.run()
    assert not at.exception
    assert at.session_state["annotator"] == "reloaded"
    assert form(at)["paragraph_id"] == at.session_state["item"].paragraph_id


def test_day_one_offers_real_unlabelled_text_not_codebook_examples(env: Path) -> None:
    at = sign_in(start(as_user=None), "day-one")
    item = at.session_state["item"]
    with open_store(env / "pmc.sqlite") as store:
        assert item.paragraph_id not in latest_gold(store, [item.paragraph_id])  # real text that needs labels
    assert not item.doc.startswith("codebook/") and not item.title.startswith("codebook")
    assert "real paragraphs labelled" in " ".join(p.text for p in at.sidebar.get("progress"))


def test_blind_mode_shows_no_scores_and_no_codebook_names(env: Path) -> None:
    at = sign_in(start(as_user=None), "blind")
    at.toggle(key="blind").set_value(True).run()
    at.toggle(key="include_gold").set_value(True).run()
    at.toggle(key="include_codebook").set_value(True).run()
    assert not at.exception
    data = form(at)
    assert all(x["p"] is None for x in data["labels"]) and data["prefill"] == []
    item = at.session_state["item"]
    page = " ".join([*(h.value for h in at.html), *(c.value for c in at.caption), *(m.value for m in at.markdown)])
    assert "codebook/" not in page and item.doc == "" or not item.doc.startswith("codebook/")


def test_review_adjudicates_a_disagreement(env: Path) -> None:
    with open_store(env / "pmc.sqlite") as store:
        item = session.next_item(Workspace.of(store, env / "models"), "r1", strategy="document")
        session.save_answer(Workspace.of(store, env / "models"), item, annotator="r1", labels=["enforcement"])
        record_answer(store, item.paragraph_id, annotator="r2", answer="accept",
                      labels=["enforcement", "international_cooperation"])
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


def test_retrain_runs_in_the_background_survives_navigation_and_promote_activates_it(env: Path) -> None:
    registry = env / "models"
    before = {c["version"] for c in list_models(registry=registry)}
    at = start("Model")
    at.number_input(key="cv_repeats").set_value(1)
    at.button(key="retrain").click().run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    job = background.current_job(env / "pmc.sqlite")
    assert job is not None and job.cv_repeats == 1
    at.switch_page("ui/label.py").run()  # leaving the page does not stop the job
    assert job.wait(TIMEOUT).state == "done", job.error
    assert any(line.startswith("cross-validation: repeat 1 of 1, fold 5 of 5") for line in job.log)
    after = {c["version"] for c in list_models(registry=registry)}
    (candidate,) = after - before
    assert active_version(registry=registry) in before  # a candidate is never activated by training
    at.switch_page("ui/model.py").run()
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


def test_a_fresh_clone_opens_on_real_unlabelled_text_with_a_suggestion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bootstrap(tmp_path / "pmc.sqlite", registry=tmp_path / "models", cv_repeats=0)  # the full gold file
    monkeypatch.setenv("PMC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PMC_DB", str(tmp_path / "pmc.sqlite"))
    monkeypatch.setenv("PMC_MODELS_DIR", str(tmp_path / "models"))
    at = sign_in(start(as_user=None), "first-day")
    assert not at.exception, [e.value for e in at.exception]
    item = at.session_state["item"]
    assert item.doc.startswith("pool/")  # the real documents shipped without labels
    with open_store(tmp_path / "pmc.sqlite") as store:
        assert item.paragraph_id not in latest_gold(store, [item.paragraph_id])
        assert store.taxonomy.label_ids == tuple(item.scores)
    assert "gold_fallback" not in at.session_state
    progress = at.sidebar.get("progress")[0]
    assert "real paragraphs labelled" in progress.text and progress.value < 100


def test_an_oversized_upload_gets_the_apps_message_and_the_limits_agree(env: Path) -> None:
    from classifier.corpus import DEFAULT_UPLOAD_BYTES
    from ui.documents import WIDGET_CEILING_MB

    at = start("Documents")
    limit_mb = DEFAULT_UPLOAD_BYTES // 1_048_576
    assert f"Up to {limit_mb} MB each." in at.caption[0].value
    assert at.file_uploader(key="uploader").proto.max_upload_size_mb == WIDGET_CEILING_MB > limit_mb + 1
    at.file_uploader(key="uploader").set_value(("big.txt", b"a" * (DEFAULT_UPLOAD_BYTES + 1), "text/plain"))
    at.run()
    assert not at.exception
    assert [visible(e.value) for e in at.error] == [
        f"big.txt: file is {limit_mb}.0 MB, over the {limit_mb}.0 MB upload limit; split it, "
        f"or convert it to JSONL paragraphs"
    ]


@pytest.mark.parametrize("page", ["Label", "Review", "Model", "Documents", "Analysis", "Codebook"])
def test_every_page_renders_on_a_fresh_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: str) -> None:
    monkeypatch.setenv("PMC_DATA_DIR", str(tmp_path))  # nothing there yet: the app's first start seeds it
    monkeypatch.setenv("PMC_DB", str(tmp_path / "pmc.sqlite"))
    monkeypatch.setenv("PMC_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setattr("classifier.bootstrap.load_labelled", lambda *a, **k: load_labelled()[::8])  # a quick first fit
    at = start(page)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert (tmp_path / "pmc.sqlite").exists() and active_version(registry=tmp_path / "models")


def test_the_analysis_page_shows_a_profile_chart_and_a_figures_table(env: Path) -> None:
    at = start("Analysis")
    assert not at.exception, [e.value for e in at.exception]
    assert at.get("vega_lite_chart"), "the measure profile is drawn"
    at.selectbox(key="analysis_by").set_value("campaign").run()
    assert not at.exception
    frames = [frame.value for frame in at.dataframe]
    profile = next(f for f in frames if "Campaign" in f.columns)
    assert "mongoose" in set(profile["Campaign"])
    figures = next(f for f in frames if "kind" in f.columns)  # after the model's precision/recall, when shown
    assert {"kind", "value", "figure", "measures"} <= set(figures.columns) and len(figures) > 0
    assert [b.label for b in at.get("download_button")] == ["Profile as CSV", "Figures as CSV"]
