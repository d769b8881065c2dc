"""Benchmark of the Label page in a real Chromium, and of a fresh clone's first start.

    python benchmarks/bench_label_page.py                 # 40 saves, writes docs/benchmark-label.json
    python benchmarks/bench_label_page.py --saves 30 --no-first-start

Measured (Playwright driving /usr/bin/chromium against `streamlit run`):

1. First start: a `git clone` of this repository's HEAD into a temporary folder, then
   `pmc app` there (seeds, the shipped unlabelled documents and the gold file ingested, a first
   model fitted without cross-validation, the store scored): seconds until the health check
   answers, and until the first paragraph's form is visible in the browser. Target ≤ 20 s.
2. Enter -> the next paragraph's text visible, over `--saves` saves (median, p95). Target:
   median ≤ 200 ms, p95 ≤ 400 ms on an idle machine of this kind.
3. A label key -> its tick visible (median, p95): local to the browser, no server round trip.

Latencies (2) are clocked inside the page (keydown to the first animation frame showing the
new paragraph); the same figure with Playwright's own round trips is reported beside it.

Each figure is put beside a peer measured in the same run, so a loaded machine shows as a
ratio: the peer of (1) is a bare Streamlit app's start to first paint; the peer of (2) is a
bare Streamlit app whose Enter-shortcut button shows the next number (one plain rerun).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
PEER_APP = textwrap.dedent('''
    import streamlit as st
    st.session_state.setdefault("n", 0)
    def _next():
        st.session_state.n += 1
    st.markdown(f"paragraph number {st.session_state.n}")
    st.button("Next", key="next", shortcut="Enter", on_click=_next)
''')


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str, process: subprocess.Popen, seconds: float = 300.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer its health check in {seconds:.0f} s")


def _stop(process: subprocess.Popen) -> None:
    """Stop a server and its children (its own process group when it has one)."""
    try:
        group = os.getpgid(process.pid)
    except ProcessLookupError:
        return
    if group == process.pid:
        os.killpg(group, signal.SIGTERM)
    else:
        process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(group, signal.SIGKILL) if group == process.pid else process.kill()


def _quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": round(1000 * statistics.median(ordered), 1), "p95_ms": round(1000 * p95, 1),
            "n": len(ordered)}


# Measured inside the page, so Playwright's own round trips are not counted: the time of the
# Enter keydown, and of the first animation frame in which the page shows something new
# (`probe()` returns what identifies the shown item: the form's token, the peer's number).
CLOCK = """(probe) => {
  window.__pmcLatencies = [];
  const read = new Function(probe);
  let last = read();
  window.addEventListener('keydown', (e) => { if (e.key === 'Enter') window.__pmcPressed = performance.now(); }, true);
  const frame = () => {
    const now = read();
    if (now && now !== last) { last = now; window.__pmcLatencies.push(performance.now() - window.__pmcPressed); }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}"""
FORM_TOKEN = """for (const host of document.querySelectorAll('*')) {
  const form = host.shadowRoot && host.shadowRoot.querySelector('.pmc-form .pmc-text') && host.shadowRoot.querySelector('.pmc-form');
  if (form) return form.getAttribute('data-token');
} return null;"""
PEER_NUMBER = """const m = document.body.innerText.match(/paragraph number (\\d+)/); return m ? m[1] : null;"""


def _streamlit(app: Path, port: int, cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=cwd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )


def first_start(browser, work: Path) -> dict[str, float]:
    """A fresh clone: `pmc app` until healthy and until the first paragraph's form is shown."""
    clone = work / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMC_")}
    log = work / "first-start.log"
    started = time.perf_counter()
    # `python -m classifier.cli` from the clone imports the clone's code (cwd first on the path).
    process = subprocess.Popen([sys.executable, "-m", "classifier.cli", "app", "--port", str(port)], cwd=clone,
                               env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                               start_new_session=True)  # `pmc app` starts streamlit as a child: stop both
    try:
        url = f"http://127.0.0.1:{port}"
        _healthy(url, process)
        healthy = time.perf_counter() - started
        page = browser.new_page()
        page.set_default_timeout(120_000)
        page.goto(f"{url}/?annotator=bench")
        page.locator(".pmc-form .pmc-text").wait_for()
        shown = time.perf_counter() - started
        page.close()
    finally:
        _stop(process)
    return {"healthy_s": round(healthy, 2), "first_paragraph_s": round(shown, 2)}


def peer_first_paint(browser, work: Path) -> float:
    app = work / "peer_app.py"
    app.write_text(PEER_APP, encoding="utf-8")
    port = _port()
    started = time.perf_counter()
    process = _streamlit(app, port, work, dict(os.environ), work / "peer-start.log")
    try:
        url = f"http://127.0.0.1:{port}"
        _healthy(url, process)
        page = browser.new_page()
        page.goto(url)
        page.get_by_text("paragraph number 0").wait_for()
        page.close()
        return round(time.perf_counter() - started, 2)
    finally:
        _stop(process)


def label_saves(browser, work: Path, saves: int) -> dict[str, dict[str, float]]:
    """Enter -> next paragraph visible, and key -> tick visible, on a bootstrapped store."""
    sys.path.insert(0, str(ROOT))
    from classifier.bootstrap import bootstrap

    folder = work / "label"
    bootstrap(folder / "pmc.sqlite", registry=folder / "models", cv_repeats=0)
    env = {**os.environ, "PMC_DATA_DIR": str(folder), "PMC_DB": str(folder / "pmc.sqlite"),
           "PMC_MODELS_DIR": str(folder / "models")}
    port = _port()
    process = _streamlit(ROOT / "app.py", port, ROOT, env, work / "label.log")
    try:
        url = f"http://127.0.0.1:{port}"
        _healthy(url, process)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.set_default_timeout(60_000)
        page.goto(f"{url}/?annotator=bench")
        form = page.locator(".pmc-form")
        form.wait_for()
        page.evaluate(CLOCK, FORM_TOKEN)
        enter, tick = [], []
        for i in range(saves + 3):  # the first three warm the caches and are not counted
            token = form.get_attribute("data-token")
            button = 'button.pmc-label[data-label="enforcement"]'
            want = "false" if page.locator(button).get_attribute("aria-pressed") == "true" else "true"
            started = time.perf_counter()
            page.keyboard.press("1")
            page.locator(f'{button}[aria-pressed="{want}"]').wait_for()
            tick_time = time.perf_counter() - started
            started = time.perf_counter()
            page.keyboard.press("Enter")
            page.locator(f".pmc-form:not([data-token='{token}']) .pmc-text").wait_for()
            if i >= 3:
                enter.append(time.perf_counter() - started)
                tick.append(tick_time)
        in_page = [ms / 1000 for ms in page.evaluate("window.__pmcLatencies")][3:]
        page.close()
    finally:
        _stop(process)
    return {"enter_to_next": _quantiles(in_page), "enter_to_next_with_playwright": _quantiles(enter),
            "key_to_tick_with_playwright": _quantiles(tick)}


def peer_saves(browser, work: Path, saves: int) -> dict[str, float]:
    app = work / "peer_app.py"
    app.write_text(PEER_APP, encoding="utf-8")
    port = _port()
    process = _streamlit(app, port, work, dict(os.environ), work / "peer.log")
    try:
        url = f"http://127.0.0.1:{port}"
        _healthy(url, process)
        page = browser.new_page()
        page.goto(url)
        page.get_by_text("paragraph number 0").click()  # focus the page: shortcuts need it
        page.get_by_role("button", name="Next").wait_for()
        page.evaluate(CLOCK, PEER_NUMBER)
        times = []
        for i in range(saves + 3):
            started = time.perf_counter()
            page.keyboard.press("Enter")
            page.get_by_text(f"paragraph number {i + 1}", exact=True).wait_for(timeout=10_000)
            if i >= 3:
                times.append(time.perf_counter() - started)
        in_page = [ms / 1000 for ms in page.evaluate("window.__pmcLatencies")][3:]
        page.close()
        return {**_quantiles(in_page), "with_playwright": _quantiles(times)}
    finally:
        _stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saves", type=int, default=40, help="saves timed (≥ 30)")
    parser.add_argument("--no-first-start", action="store_true", help="skip the fresh-clone first start")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmark-label.json")
    options = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="pmc-bench-label-") as tmp, sync_playwright() as playwright:
        work = Path(tmp)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        result: dict[str, object] = {"machine": f"{os.cpu_count()} cores", "saves": options.saves}
        if not options.no_first_start:
            result["first_start"] = first_start(browser, work)
            result["peer_first_paint_s"] = peer_first_paint(browser, work)
        result["label"] = label_saves(browser, work, options.saves)
        result["peer_rerun"] = peer_saves(browser, work, options.saves)
        browser.close()
    label, peer = result["label"], result["peer_rerun"]
    result["enter_to_next_vs_peer_rerun"] = round(label["enter_to_next"]["median_ms"] / peer["median_ms"], 2)
    print(json.dumps(result, indent=2))
    options.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
