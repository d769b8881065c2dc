"""End to end in headless Chromium: the real `streamlit run app.py` server driven by Playwright.

Two annotators in separate browser contexts label by clicking and by pressing keys; a reviewer
adjudicates; a retrain creates a version; a document is uploaded; a screenshot of every page is
saved (to docs/screenshots/ when PMC_SCREENSHOTS=docs/screenshots). The server listens on a free loopback port and is stopped at the end.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from classifier.bootstrap import bootstrap
from classifier.labels.gold import load_labelled
from classifier.scoring.registry import active_version, list_models
from classifier.store import answers_by, latest_gold, open_store, record_answer

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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    rows = load_labelled()
    gold = [r for r in rows if r.source == "codebook"][::6] + [r for r in rows if r.doc == "002_6ae7b0e59d7fc9d5"]
    bootstrap(folder / "pmc.sqlite", registry=folder / "models", gold=gold, cv_repeats=0)
    port = _free_port()
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


def _open(browser, url: str, name: str):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{url}/?page=label")
    page.get_by_role("textbox", name="Your name").fill(name)
    page.get_by_role("button", name="Start labelling").click()
    page.get_by_text("Which measures does this paragraph describe?").first.wait_for()
    return context, page


def _shown_id(page) -> str:
    return page.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"] code').first.inner_text()


def _ticks(page) -> list[bool]:
    boxes = page.locator('[data-testid="stMain"] [data-testid="stCheckbox"] input')
    assert boxes.count() == 5
    return [boxes.nth(i).is_checked() for i in range(5)]


def _wait_ticks(page, expected: list[bool]) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while _ticks(page) != expected:
        if time.monotonic() > deadline:
            pytest.fail(f"checkboxes are {_ticks(page)}, expected {expected}")
        time.sleep(0.1)


def _wait_new_paragraph(page, old: str) -> str:
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        try:
            shown = _shown_id(page)
        except Exception:  # the element is being re-rendered
            shown = old
        if shown != old:
            return shown
        if time.monotonic() > deadline:
            pytest.fail(f"still showing paragraph {old} after saving")
        time.sleep(0.1)


def _idle(page) -> None:
    """Wait for the script run to finish and the toasts to fade (clean screenshots)."""
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=WAIT_MS)
    page.wait_for_function("!document.querySelector('[data-testid=\"stToast\"]')", timeout=20_000)
    time.sleep(0.3)


def _go(page, name: str) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_text(name, exact=False).first.click()
    page.get_by_role("heading", name=name).first.wait_for()
    _idle(page)


def test_two_annotators_review_retrain_and_screenshots(server: tuple[str, Path], browser) -> None:
    url, folder = server
    db, registry = folder / "pmc.sqlite", folder / "models"
    SHOTS.mkdir(parents=True, exist_ok=True)
    mouse_ctx, mouse = _open(browser, url, "ann-mouse")
    keys_ctx, keys = _open(browser, url, "ann-keys")
    try:
        expected: dict[str, dict[str, tuple[str, ...]]] = {"ann-mouse": {}, "ann-keys": {}}
        for _ in range(2):
            # Clicking: untick or tick "Border patrol" with the mouse, then press the Save button.
            pid, ticks = _shown_id(mouse), _ticks(mouse)
            assert pid != _shown_id(keys), "two annotators were shown the same paragraph"
            mouse.locator('[data-testid="stMain"]').get_by_text("Border patrol and control").click()
            ticks[2] = not ticks[2]
            _wait_ticks(mouse, ticks)
            expected["ann-mouse"][pid] = tuple(label for label, on in zip(LABELS, ticks) if on)
            mouse.get_by_role("button", name="Save & next").click()
            _wait_new_paragraph(mouse, pid)

            # Keys only: "1" toggles Enforcement, "5" toggles International cooperation, Enter saves.
            pid, ticks = _shown_id(keys), _ticks(keys)
            keys.keyboard.press("1")
            ticks[0] = not ticks[0]
            _wait_ticks(keys, ticks)
            keys.keyboard.press("5")
            ticks[4] = not ticks[4]
            _wait_ticks(keys, ticks)
            expected["ann-keys"][pid] = tuple(label for label, on in zip(LABELS, ticks) if on)
            keys.keyboard.press("Enter")
            _wait_new_paragraph(keys, pid)
        _idle(mouse)
        mouse.screenshot(path=str(SHOTS / "label.png"))

        with open_store(db) as store:
            for name, answers in expected.items():
                stored = {a.paragraph_id: a.labels for a in answers_by(store, name)}
                assert stored == answers
                assert all(a.model_version == active_version(registry=registry) for a in answers_by(store, name))
            assert not set(expected["ann-mouse"]) & set(expected["ann-keys"]), "non-overlap mode gave a paragraph twice"
            # A second opinion on each of ann-mouse's paragraphs makes disagreements to review.
            for pid, labels in expected["ann-mouse"].items():
                other = ["source_governance"] if labels != ("source_governance",) else []
                record_answer(store, pid, annotator="ann-other", answer="accept", labels=other)

        _go(mouse, "Review")
        form = mouse.locator('[data-testid="stForm"]').first
        form.wait_for()
        disputed = mouse.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"] code').first.inner_text()
        assert disputed in expected["ann-mouse"]
        for label in ("Special crackdown operations", "Source governance"):
            box = form.locator('[data-testid="stCheckbox"]').filter(has_text=label)
            if not box.locator("input").is_checked():
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
        mouse.get_by_text(re.compile(r"^Candidate \S+ trained on \d+ paragraphs$")).first.wait_for(timeout=180_000)
        mouse.get_by_text("Candidate vs active").first.wait_for()
        _idle(mouse)
        assert mouse.get_by_role("button", name="Promote to active").first.is_visible()
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

        _go(mouse, "Codebook")
        mouse.screenshot(path=str(SHOTS / "codebook.png"))
        for name in ("label", "review", "model", "documents", "codebook"):
            assert (SHOTS / f"{name}.png").stat().st_size > 10_000
    finally:
        mouse_ctx.close()
        keys_ctx.close()
