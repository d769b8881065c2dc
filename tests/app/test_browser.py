"""End to end in headless Chromium: the real `streamlit run app.py` server driven by Playwright.

Two annotators in separate browser contexts label by clicking and by pressing keys; a reviewer
adjudicates; a retrain creates a version; a document is uploaded; a screenshot of every page is
saved (to docs/screenshots/ when PMC_SCREENSHOTS=docs/screenshots). The server listens on a free loopback port and is stopped at the end.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from classifier.bootstrap import bootstrap
from classifier.scoring.registry import active_version, list_models
from classifier.store import answers_by, latest_gold, open_store, record_answer
from conftest import app_gold, free_port

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# The README's screenshots are refreshed with PMC_SCREENSHOTS=docs/screenshots; otherwise they go to
# a temporary folder, so running the suite leaves the working tree clean.
SHOTS = Path(os.environ.get("PMC_SCREENSHOTS") or tempfile.mkdtemp(prefix="pmc-shots-"))
LABELS = ("enforcement", "port_inspection", "border_patrol", "source_governance", "international_cooperation")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1000}
WAIT_MS = 60_000
NOTE = (
    "Border police step up port checks\n\n"
    "Officers at the Gongbei port inspected 1.2 million travellers and intercepted 35 people holding forged "
    "passports.\n\n"
    "Police cracked 48 cases of organising illegal border crossings and arrested 112 suspects.\n\n"
    "The immigration administration held talks with Laos and Myanmar on joint law-enforcement operations "
    "against smuggling gangs.\n\n"
    "Patrol teams covered 3,000 kilometres of the border with drones and night patrols.\n"
)


def _wait_healthy(url: str, process: subprocess.Popen, log: Path, seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"streamlit did not become healthy in {seconds:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); the browser tests need it")
    folder = tmp_path_factory.mktemp("browser")
    gold = app_gold()
    bootstrap(folder / "pmc.sqlite", registry=folder / "models", gold=gold, cv_repeats=0)
    port = free_port()
    env = {**os.environ, "PMC_DATA_DIR": str(folder), "PMC_DB": str(folder / "pmc.sqlite"),
           "PMC_MODELS_DIR": str(folder / "models")}
    log = folder / "streamlit.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        yield url, folder
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="module")
def browser(server: tuple[str, Path]):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _open(browser, url: str, name: str, *, context=None):
    """A tab signed in as `name` (a new browser context unless one is given)."""
    context = context or browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{url}/?annotator={name}")
    _form(page).wait_for()
    return context, page


def _form(page):
    return page.locator(".pmc-form")


def _token(page) -> str:
    return _form(page).get_attribute("data-token")


def _shown_id(page) -> str:
    return _form(page).get_attribute("data-paragraph")


def _pressed(page) -> set[str]:
    return {b.get_attribute("data-label") for b in page.locator('button.pmc-label[aria-pressed="true"]').all()}


def _wait_new(page, old_token: str) -> str:
    """Wait until the form shows another rendering than `old_token`; its paragraph id."""
    page.locator(f".pmc-form:not([data-token='{old_token}'])").wait_for()
    return _shown_id(page)


def _status(page) -> str:
    return page.locator(".pmc-status").inner_text()


def _export(db: Path) -> list[dict]:
    """Every answer ever recorded, as `pmc answers export` gives it."""
    done = subprocess.run([sys.executable, "-m", "classifier.cli", "answers", "export", "--db", str(db)],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def _answers_of(db: Path, name: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in _export(db):
        if row["annotator"] == name:
            out.setdefault(row["paragraph_id"], []).append(row)
    return out


def _idle(page) -> None:
    """Wait for the script run to finish and the toasts to fade (clean screenshots)."""
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=WAIT_MS)
    page.wait_for_function("!document.querySelector('[data-testid=\"stToast\"]')", timeout=20_000)
    time.sleep(0.3)


def _go(page, name: str) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_text(name, exact=False).first.click()
    page.get_by_role("heading", name=name).first.wait_for()
    _idle(page)


def _set_overlap(page, value_key: str = "End") -> None:
    token = _token(page)
    page.get_by_role("slider").first.press(value_key)
    _wait_new(page, token)


def test_two_annotators_who_disagree_raise_the_disagreement_count(server, browser) -> None:
    # First in this module: no paragraph has an answer yet, so the one agree-a answers is the
    # oldest that needs a second answer.
    url, _ = server
    first_ctx, first = _open(browser, url, "agree-a")
    second_ctx, second = _open(browser, url, "agree-b")
    try:
        _go(first, "Review")
        count = int(re.search(r"Disagreements \((\d+)\)", first.get_by_role("tab").first.inner_text()).group(1))
        first.goto(f"{url}/?annotator=agree-a")
        _form(first).wait_for()
        _set_overlap(first)  # overlap 1.0: every paragraph gets two independent answers
        token, pid = _token(first), _shown_id(first)
        for key in "1":
            first.keyboard.press(key)
        labels_a = _pressed(first)
        first.keyboard.press("Enter")
        _wait_new(first, token)
        _set_overlap(second)  # a new queue: paragraphs that need a second answer come first
        assert _shown_id(second) == pid
        assert "needs a second, independent answer" in second.locator('[data-testid="stMain"]').inner_text()
        differ = "5" if "international_cooperation" not in labels_a else "4"
        chosen = _pressed(second) ^ {LABELS[int(differ) - 1]}
        if chosen == labels_a:
            second.keyboard.press("2")
        second.keyboard.press(differ)
        token = _token(second)
        second.keyboard.press("Enter")
        _wait_new(second, token)
        _go(first, "Review")
        first.get_by_role("tab", name=f"Disagreements ({count + 1})").first.wait_for()
    finally:
        first_ctx.close()
        second_ctx.close()


def test_fast_keys_over_twenty_paragraphs_save_exactly_what_was_typed(server: tuple[str, Path], browser) -> None:
    url, folder = server
    rng = random.Random(9)
    context, page = _open(browser, url, "fast-keys")
    try:
        expected: dict[str, set[str]] = {}
        for _ in range(20):
            token, pid = _token(page), _shown_id(page)
            chosen = set(_pressed(page))  # the model's pre-ticks
            for key in rng.sample("12345", rng.randint(1, 4)):
                page.keyboard.press(key)
                chosen ^= {LABELS[int(key) - 1]}
                time.sleep(rng.uniform(0, 0.05))  # 0-50 ms between keys: no round trip, nothing lost
            expected[pid] = chosen
            page.keyboard.press("Enter")
            _wait_new(page, token)
        stored = _answers_of(folder / "pmc.sqlite", "fast-keys")
        assert {pid: set(rows[-1]["labels"]) for pid, rows in stored.items()} == expected
        assert all(len(rows) == 1 for rows in stored.values())
    finally:
        context.close()


def test_a_double_enter_saves_one_answer_and_says_the_second_key_was_dropped(server, browser) -> None:
    url, folder = server
    context, page = _open(browser, url, "double-enter")
    try:
        token, first = _token(page), _shown_id(page)
        page.keyboard.press("Enter")
        page.keyboard.press("Enter")  # arrives while the next paragraph loads
        second = _wait_new(page, token)
        assert int(_form(page).get_attribute("data-dropped")) == 1
        page.wait_for_timeout(500)
        stored = _answers_of(folder / "pmc.sqlite", "double-enter")
        assert list(stored) == [first] and len(stored[first]) == 1 and second not in stored
        assert _shown_id(page) == second
    finally:
        context.close()


def test_a_stale_tab_cannot_save_and_says_so(server, browser) -> None:
    url, folder = server
    context, old_tab = _open(browser, url, "two-tabs")
    try:
        shown = _shown_id(old_tab)
        _, new_tab = _open(browser, url, "two-tabs", context=context)  # the same annotator opens a second tab
        assert _shown_id(new_tab) != shown or _token(new_tab) != _token(old_tab)
        old_tab.bring_to_front()
        old_tab.keyboard.press("3")
        old_tab.keyboard.press("Enter")
        old_tab.get_by_text("This tab is out of date").first.wait_for()
        old_tab.locator(".pmc-status", has_text="not saved").wait_for()  # the form says why
        assert shown not in _answers_of(folder / "pmc.sqlite", "two-tabs")
        token = _token(new_tab)
        new_tab.bring_to_front()
        new_tab.keyboard.press("Enter")  # the current tab saves normally
        _wait_new(new_tab, token)
        assert len(_answers_of(folder / "pmc.sqlite", "two-tabs")) == 1
    finally:
        context.close()


def test_keys_work_after_the_sidebar_and_the_note(server, browser) -> None:
    url, folder = server
    context, page = _open(browser, url, "sidebar-keys")
    try:
        token = _token(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.locator('[data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name="Document order").click()
        _wait_new(page, token)
        token = _token(page)
        before = _pressed(page)
        page.keyboard.press("3")  # focus was in the select box: the key still ticks
        assert _pressed(page) == before ^ {"border_patrol"}
        note = page.locator("textarea.pmc-note")
        note.click()
        note.type("seen 1 2 at the port")  # digits typed in the note are text, not toggles
        assert _pressed(page) == before ^ {"border_patrol"}
        page.keyboard.press("Escape")  # leave the note: keys are keys again
        page.keyboard.press("1")
        assert _pressed(page) == before ^ {"border_patrol", "enforcement"}
        pid, chosen = _shown_id(page), _pressed(page)
        note.click()
        page.keyboard.press("Control+Enter")  # saves from inside the note
        _wait_new(page, token)
        (row,) = _answers_of(folder / "pmc.sqlite", "sidebar-keys")[pid]
        assert (set(row["labels"]), row["note"]) == (chosen, "seen 1 2 at the port")
    finally:
        context.close()


def test_blind_mode_shows_no_scores_and_no_codebook_headings(server, browser) -> None:
    url, _ = server
    context, page = _open(browser, url, "blind-view")
    try:
        assert page.locator(".pmc-bar").count() == 5  # the model's scores, when not blind
        help_button, definition = page.locator("button.pmc-help").first, page.locator(".pmc-definition").first
        help_button.click()
        definition.click()  # reading or selecting the definition does not close it
        assert definition.is_visible() and help_button.get_attribute("aria-expanded") == "true"
        help_button.click()
        assert not definition.is_visible()
        token = _token(page)
        page.locator('[data-testid="stSidebar"]').get_by_text("Blind mode").click()
        _wait_new(page, token)
        assert page.locator(".pmc-bar").count() == 0 and _pressed(page) == set()
        assert "codebook/" not in page.locator('[data-testid="stMain"]').inner_text()
    finally:
        context.close()


def test_two_annotators_review_retrain_and_screenshots(server: tuple[str, Path], browser) -> None:
    url, folder = server
    db, registry = folder / "pmc.sqlite", folder / "models"
    SHOTS.mkdir(parents=True, exist_ok=True)
    mouse_ctx, mouse = _open(browser, url, "ann-mouse")
    keys_ctx, keys = _open(browser, url, "ann-keys")
    mouse.set_viewport_size({"width": 1366, "height": 768})  # a common laptop screen
    assert mouse.locator("button.pmc-action", has_text="Save & next").bounding_box()["y"] < 768 - 40
    try:
        expected: dict[str, dict[str, tuple[str, ...]]] = {"ann-mouse": {}, "ann-keys": {}}
        for _ in range(2):
            # Clicking: untick or tick "Border patrol" with the mouse, then press the Save button.
            pid, token, ticks = _shown_id(mouse), _token(mouse), _pressed(mouse)
            assert pid != _shown_id(keys), "two annotators were shown the same paragraph"
            mouse.locator("button.pmc-label", has_text="Border patrol and control").click()
            ticks ^= {"border_patrol"}
            assert _pressed(mouse) == ticks
            expected["ann-mouse"][pid] = tuple(label for label in LABELS if label in ticks)
            mouse.locator("button.pmc-action", has_text="Save & next").click()
            _wait_new(mouse, token)

            # Keys only: "1" toggles Enforcement, "5" toggles International cooperation, Enter saves.
            pid, token, ticks = _shown_id(keys), _token(keys), _pressed(keys)
            keys.keyboard.press("1")
            keys.keyboard.press("5")
            ticks ^= {"enforcement", "international_cooperation"}
            assert _pressed(keys) == ticks
            expected["ann-keys"][pid] = tuple(label for label in LABELS if label in ticks)
            keys.keyboard.press("Enter")
            _wait_new(keys, token)
        _idle(mouse)
        mouse.screenshot(path=str(SHOTS / "label.png"))

        with open_store(db) as store:
            for name, answers in expected.items():
                stored = {a.paragraph_id: a.labels for a in answers_by(store, name)}
                assert stored == answers
                assert all(a.model_version == active_version(registry=registry) for a in answers_by(store, name))
            # A second opinion on each of ann-mouse's paragraphs makes disagreements to review.
            for pid, labels in expected["ann-mouse"].items():
                other = ["source_governance"] if labels != ("source_governance",) else []
                record_answer(store, pid, annotator="ann-other", answer="accept", labels=other)

        _go(mouse, "Review")
        form = mouse.locator('[data-testid="stForm"]').first
        form.wait_for()
        disputed = mouse.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"] code').first.inner_text()
        with open_store(db) as store:  # the oldest disagreement: this test's, or the one agree-a and -b made
            assert disputed in set(expected["ann-mouse"]) | {a.paragraph_id for a in answers_by(store, "agree-b")}
        wanted = ("Special crackdown operations", "Source governance")
        # The form starts from the answers' labels, which depend on the paragraphs the queue dealt
        # out (the model's suggestions on them): set every box, not only the wanted ones.
        for label in ("Special crackdown operations", "Precise inspection at ports", "Border patrol and control",
                      "Source governance", "International law-enforcement cooperation"):
            box = form.locator('[data-testid="stCheckbox"]').filter(has_text=label)
            if box.locator("input").is_checked() != (label in wanted):
                box.get_by_text(label).click()
        form.get_by_role("textbox").fill("crackdown plus publicity")
        form.get_by_role("button", name="Set gold labels").click()
        mouse.get_by_text(f"Gold set for {disputed}").first.wait_for()
        with open_store(db) as store:
            gold = latest_gold(store, [disputed])[disputed]
        assert (gold.labels, gold.reviewer, gold.source) == (
            ("enforcement", "source_governance"), "ann-mouse", "review")
        mouse.get_by_role("tab", name="Agreement", exact=True).click()
        _idle(mouse)
        mouse.get_by_role("tab").first.click()
        _idle(mouse)
        mouse.screenshot(path=str(SHOTS / "review.png"))

        _go(mouse, "Model")
        before = {c["version"] for c in list_models(registry=registry)}
        repeats = mouse.get_by_role("spinbutton", name="Cross-validation repeats")
        repeats.fill("1")
        repeats.press("Enter")
        _idle(mouse)
        mouse.get_by_role("button", name="Retrain on current gold").click()
        mouse.get_by_text(re.compile(r"^Retraining: ")).first.wait_for()  # a background job with real stages
        mouse.get_by_text(re.compile(r"^Candidate \S+ trained on \d+ paragraphs")).first.wait_for(timeout=180_000)
        mouse.get_by_text("Candidate vs active").first.wait_for()
        _idle(mouse)
        mouse.get_by_role("button", name="Promote to active").first.wait_for()
        after = {c["version"] for c in list_models(registry=registry)}
        assert len(after - before) == 1 and active_version(registry=registry) in before
        mouse.screenshot(path=str(SHOTS / "model.png"))

        _go(mouse, "Documents")
        note = folder / "border_police_note.txt"
        note.write_text(NOTE, encoding="utf-8")
        mouse.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(note))
        mouse.get_by_text("border_police_note.txt: 4 paragraphs (4 new), classified").first.wait_for()
        mouse.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
        _idle(mouse)
        mouse.screenshot(path=str(SHOTS / "documents.png"))

        _go(mouse, "Analysis")
        mouse.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
        mouse.get_by_text("Figures reported per measure").first.wait_for()
        mouse.locator('[data-testid="stDataFrame"]').nth(1).wait_for()  # the profile table and the figures table
        _idle(mouse)
        mouse.screenshot(path=str(SHOTS / "analysis.png"))

        _go(mouse, "Codebook")
        mouse.screenshot(path=str(SHOTS / "codebook.png"))
        for name in ("label", "review", "model", "documents", "analysis", "codebook"):
            assert (SHOTS / f"{name}.png").stat().st_size > 10_000
    finally:
        mouse_ctx.close()
        keys_ctx.close()
