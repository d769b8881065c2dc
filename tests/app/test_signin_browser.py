"""Sign-in end to end in headless Chromium: the real `streamlit run app.py` behind each identity mode.

* `PMC_AUTH=oidc`: Streamlit's native `st.login()` against a local mock OpenID Connect provider
  (`oidc-provider-mock`, on a free loopback port; nothing leaves the machine). The test types the
  subject into the provider's authorization form, is redirected back and is signed in as exactly
  that e-mail; an annotator sees Label but not Review or Model, and a paragraph; signing out
  goes through the provider's end-session page and brings the sign-in screen back; an e-mail
  that is not a user of the store is refused, and after signing out the same browser signs in
  as the admin (every page).
* `PMC_AUTH=header`: a browser context that sends `X-Forwarded-Email` on every request (as a
  reverse proxy would; websocket included) is a reviewer who adjudicates a disagreement; the
  gold records that e-mail as the reviewer. A context without the header, or with a disabled
  user's, sees only the sign-in message. `?annotator=` (typed-name mode) signs nobody in.

Every server runs with its `cwd` in a temporary folder holding its own `.streamlit/secrets.toml`,
so the repository's `.streamlit/` is never written. Both servers share one store, whose users
are added before they start. Whenever someone is not signed in, the test checks that no
paragraph text of the store is anywhere in the page (shadow roots included).
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from classifier.bootstrap import bootstrap
from classifier.store import get_paragraphs, latest_gold, open_store, record_answer
from classifier.store.users import add_user, set_disabled
from conftest import app_gold, free_port

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(os.environ.get("PMC_SCREENSHOTS") or tempfile.mkdtemp(prefix="pmc-signin-shots-"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1000}
WAIT_MS = 60_000

ADMIN, ANNOTATOR, SECOND, REVIEWER = "admin@example.org", "ann@example.org", "ann2@example.org", "rev@example.org"
STRANGER, GONE = "stranger@example.org", "gone@example.org"
# Every element's text, shadow roots and same-origin frames included (the Label form is a v2 component).
ALL_TEXT_JS = """() => {
  const out = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) walk(el.shadowRoot);
      if (el.tagName === 'IFRAME') { try { walk(el.contentDocument); } catch (e) {} }
    }
    out.push(root === document ? document.body.innerText : (root.textContent || ''));
  };
  walk(document);
  return out.join('\\n');
}"""


def _wait_up(url: str, process: subprocess.Popen, log: Path, seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args[2]} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"{url} did not answer in {seconds:.0f} s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


def _start(args: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", *args], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)


def _streamlit(folder: Path, port: int, auth: str, secrets_toml: str = "") -> tuple[subprocess.Popen, Path]:
    """`streamlit run <repo>/app.py` from its own folder: the repository's `config.toml`, its own
    `secrets.toml`, and `HOME` there too, so no `~/.streamlit/secrets.toml` of whoever runs the tests counts."""
    cwd = folder / f"cwd-{auth}"
    (cwd / ".streamlit").mkdir(parents=True)
    shutil.copy(ROOT / ".streamlit" / "config.toml", cwd / ".streamlit" / "config.toml")  # the app's settings
    if secrets_toml:
        (cwd / ".streamlit" / "secrets.toml").write_text(secrets_toml, encoding="utf-8")
    home = folder / f"home-{auth}"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "PMC_AUTH": auth, "PMC_DATA_DIR": str(folder), "PMC_DB": str(folder / "pmc.sqlite"),
           "PMC_MODELS_DIR": str(folder / "models")}
    env.pop("PMC_AUTH_HEADER", None)
    log = folder / f"streamlit-{auth}.log"
    process = _start(["streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
                      "--server.port", str(port), "--server.address", "127.0.0.1",
                      "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                     cwd=cwd, env=env, log=log)
    return process, log


@pytest.fixture(scope="module")
def store_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bootstrapped store with five users (one disabled) and one paragraph two annotators disagree on."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); the browser tests need it")
    for module, package in (("authlib", "Authlib"), ("oidc_provider_mock", "oidc-provider-mock")):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"the sign-in tests need {package} (pip install -e '.[test]')")
    folder = tmp_path_factory.mktemp("signin")
    gold = app_gold()
    bootstrap(folder / "pmc.sqlite", registry=folder / "models", gold=gold, cv_repeats=0)
    with open_store(folder / "pmc.sqlite") as store:
        add_user(store, ADMIN, role="admin", by=ADMIN)
        add_user(store, ANNOTATOR, role="annotator", by=ADMIN)
        add_user(store, SECOND, role="annotator", by=ADMIN)
        add_user(store, REVIEWER, role="reviewer", by=ADMIN)
        add_user(store, GONE, role="reviewer", by=ADMIN)
        set_disabled(store, GONE, True, by=ADMIN)
        gold_ids = set(latest_gold(store))
        disputed = next(pid for pid in get_paragraphs(store) if pid not in gold_ids)
        record_answer(store, disputed, annotator=ANNOTATOR, answer="accept", labels=["enforcement"])
        record_answer(store, disputed, annotator=SECOND, answer="accept", labels=["border_patrol"])
    (folder / "disputed").write_text(disputed)
    return folder


@pytest.fixture(scope="module")
def texts(store_folder: Path) -> dict[str, str]:
    """Every paragraph's text by id."""
    with open_store(store_folder / "pmc.sqlite") as store:
        return {pid: p.text for pid, p in get_paragraphs(store).items()}


@pytest.fixture(scope="module")
def servers(store_folder: Path) -> Iterator[dict[str, str]]:
    """The mock OIDC provider, an `oidc` app server and a `header` app server, started together."""
    provider_port, oidc_port, header_port = free_port(), free_port(), free_port()
    provider_url = f"http://127.0.0.1:{provider_port}"
    provider_log = store_folder / "oidc-provider.log"
    provider = _start(["oidc_provider_mock", "--host", "127.0.0.1", "--port", str(provider_port)],
                      cwd=store_folder, env={**os.environ, "NO_COLOR": "1"}, log=provider_log)
    processes = [provider]
    try:
        _wait_up(f"{provider_url}/.well-known/openid-configuration", provider, provider_log)
        # The mock accepts any client id and secret when client registration is not required.
        secrets_toml = (
            "[auth]\n"
            f'redirect_uri = "http://127.0.0.1:{oidc_port}/oauth2callback"\n'
            f'cookie_secret = "{secrets.token_hex(32)}"\n'
            'client_id = "pmc-test"\n'
            'client_secret = "pmc-test-secret"\n'
            f'server_metadata_url = "{provider_url}/.well-known/openid-configuration"\n'
        )
        oidc, oidc_log = _streamlit(store_folder, oidc_port, "oidc", secrets_toml)
        processes.append(oidc)
        header, header_log = _streamlit(store_folder, header_port, "header")
        processes.append(header)
        urls = {"oidc": f"http://127.0.0.1:{oidc_port}", "header": f"http://127.0.0.1:{header_port}",
                "provider": provider_url}
        _wait_up(f"{urls['oidc']}/_stcore/health", oidc, oidc_log)
        _wait_up(f"{urls['header']}/_stcore/health", header, header_log)
        yield urls
    finally:
        for process in reversed(processes):
            _stop(process)


@pytest.fixture(scope="module")
def browser(servers: dict[str, str]):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _idle(page) -> None:
    """Wait for the script run to finish (clean screenshots, settled pages)."""
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=WAIT_MS)
    time.sleep(0.3)


def _shown_paragraphs(page, texts: dict[str, str]) -> set[str]:
    """The ids of the store's paragraphs whose text (or its first 60 characters) is on the page."""
    everything = " ".join(page.evaluate(ALL_TEXT_JS).split())
    return {pid for pid, text in texts.items() if " ".join(text.split())[:60] in everything}


def _nav(page) -> list[str]:
    """The page names in the sidebar navigation."""
    return page.locator('[data-testid="stSidebarNav"] a').evaluate_all(
        "links => links.map(a => { const c = a.cloneNode(true);"
        " c.querySelectorAll('[data-testid=\"stIconMaterial\"]').forEach(i => i.remove());"
        " return c.textContent.trim(); })")


def _signed_in(page) -> str:
    """The sidebar's "Signed in: NAME · ROLE" line."""
    line = page.locator('[data-testid="stSidebar"] .pmc-signed-in')
    return " ".join(line.first.inner_text().split())


def _signin_screen(page, texts: dict[str, str], *, message: str = "") -> None:
    page.get_by_role("heading", name="Sign in").first.wait_for()
    if message:
        page.get_by_text(message).first.wait_for()
    _idle(page)
    assert page.locator(".pmc-form").count() == 0
    assert _shown_paragraphs(page, texts) == set()
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0


def _back_in_app(page, url: str) -> None:
    """Wait until the provider's redirect and Streamlit's `/oauth2callback` have landed on the app."""
    page.wait_for_url(lambda u: u.startswith(f"{url}/") and "/oauth2callback" not in u)


def _oidc_sign_in(page, url: str, subject: str) -> None:
    """Open the app, press "Sign in", authorize `subject` at the mock provider and come back."""
    page.goto(url)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/oauth2/authorize**")
    page.get_by_placeholder("sub").fill(subject)
    page.get_by_role("button", name="Authorize").click()
    _back_in_app(page, url)


def _oidc_sign_out(page, url: str, button) -> None:
    """Press "Sign out": Streamlit drops its cookie and sends the browser to the provider's
    end-session page (RP-initiated logout), which returns to the app once confirmed."""
    button.click()
    page.wait_for_url("**/oauth2/end_session**")
    page.get_by_role("button", name="End session").click()
    _back_in_app(page, url)


def test_oidc_annotator_signs_in_sees_only_label_and_signs_out(servers, browser, texts) -> None:
    url = servers["oidc"]
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        page.goto(f"{url}/?annotator={ADMIN}")  # the typed-name mode's parameter signs nobody in here
        _signin_screen(page, texts)
        page.screenshot(path=str(SHOTS / "signin-oidc.png"))
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/oauth2/authorize**")  # the provider's own page, not the app
        assert page.url.startswith(servers["provider"])
        page.screenshot(path=str(SHOTS / "signin-oidc-provider.png"))
        page.get_by_placeholder("sub").fill(ANNOTATOR)  # the mock's e-mail claim is the subject
        page.get_by_role("button", name="Authorize").click()
        _back_in_app(page, url)
        form = page.locator(".pmc-form")
        form.wait_for()
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text("Signed in:").wait_for()
        _idle(page)
        assert _signed_in(page) == f"Signed in: {ANNOTATOR} · annotator"
        assert _nav(page) == ["Label", "Documents", "Analysis", "Codebook"]  # no Review, no Model
        shown = form.get_attribute("data-paragraph")
        assert shown in texts and shown in _shown_paragraphs(page, texts)
        page.screenshot(path=str(SHOTS / "signin-oidc-annotator.png"))

        _oidc_sign_out(page, url, sidebar.get_by_role("button", name="Sign out"))
        _signin_screen(page, texts)
        assert page.get_by_role("button", name="Sign in").is_visible()
        page.reload()  # the session cookie is gone too, not only this tab's state
        _signin_screen(page, texts)
    finally:
        context.close()


def test_oidc_identity_that_is_not_a_user_is_refused_then_the_admin_signs_in(servers, browser, texts) -> None:
    url = servers["oidc"]
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        _oidc_sign_in(page, url, STRANGER)
        _signin_screen(page, texts, message=f"{STRANGER} is not a user of this pmc store")
        page.screenshot(path=str(SHOTS / "signin-oidc-stranger.png"))
        _oidc_sign_out(page, url, page.get_by_role("button", name="Sign out"))  # to try another account
        page.get_by_role("button", name="Sign in").wait_for()
        _signin_screen(page, texts)
        _oidc_sign_in(page, url, ADMIN)  # the same browser, now the admin: all pages, nobody's leftovers
        page.locator(".pmc-form").wait_for()
        _idle(page)
        assert _signed_in(page) == f"Signed in: {ADMIN} · admin"
        assert _nav(page) == ["Label", "Review", "Model", "Documents", "Analysis", "Codebook"]
    finally:
        context.close()


def test_header_reviewer_adjudicates_and_no_header_sees_nothing(servers, browser, texts, store_folder) -> None:
    url = servers["header"]
    disputed = (store_folder / "disputed").read_text()
    anonymous = browser.new_context(viewport=VIEWPORT)
    disabled = browser.new_context(viewport=VIEWPORT, extra_http_headers={"X-Forwarded-Email": GONE})
    reviewer = browser.new_context(viewport=VIEWPORT, extra_http_headers={"X-Forwarded-Email": REVIEWER})
    try:
        page = anonymous.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{url}/?annotator={ADMIN}")  # the typed-name mode's parameter signs nobody in here
        _signin_screen(page, texts, message="none came with this request")
        page.screenshot(path=str(SHOTS / "signin-header-none.png"))

        page = disabled.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(url)
        _signin_screen(page, texts, message=f"{GONE} is disabled on this pmc store")

        page = reviewer.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{url}/?annotator={ADMIN}")
        page.locator(".pmc-form").wait_for()
        sidebar = page.locator('[data-testid="stSidebar"]')
        _idle(page)
        assert _signed_in(page) == f"Signed in: {REVIEWER} · reviewer"
        assert _nav(page) == ["Label", "Review", "Documents", "Analysis", "Codebook"]  # no Model
        assert sidebar.get_by_role("button", name="Sign out").count() == 0  # the proxy's business

        sidebar.get_by_text("Review", exact=True).click()
        page.get_by_role("heading", name="Review").first.wait_for()
        page.get_by_role("tab", name="Disagreements (1)").wait_for()
        form = page.locator('[data-testid="stForm"]').first
        form.wait_for()
        _idle(page)
        assert page.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"] code').first.inner_text() == disputed
        for label in ("Special crackdown operations", "Border patrol and control"):
            box = form.locator('[data-testid="stCheckbox"]').filter(has_text=label)
            if not box.locator("input").is_checked():
                box.get_by_text(label).click()
        for label in ("Precise inspection at ports", "Source governance", "International law-enforcement"):
            box = form.locator('[data-testid="stCheckbox"]').filter(has_text=label)
            if box.locator("input").is_checked():
                box.get_by_text(label).click()
        form.get_by_role("textbox").fill("both are right")
        form.get_by_role("button", name="Set gold labels").click()
        page.get_by_text(f"Gold set for {disputed}").first.wait_for()
        _idle(page)
        page.screenshot(path=str(SHOTS / "signin-header-review.png"))
        with open_store(store_folder / "pmc.sqlite") as store:
            gold = latest_gold(store, [disputed])[disputed]
        assert (gold.labels, gold.reviewer, gold.note) == (("enforcement", "border_patrol"), REVIEWER, "both are right")
    finally:
        anonymous.close()
        disabled.close()
        reviewer.close()
