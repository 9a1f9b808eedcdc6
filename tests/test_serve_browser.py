"""The playground in a real headless browser: `ctsdsl serve` started as a user starts it, the page driven by
Playwright on the system's Chromium (Debian's `chromium`; .ci/run installs it). Playwright's own browser
download is not used: it fetches from outside the package registries.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette")
playwright = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed "
                                 "(pip install -e '.[serve-test]')")

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
if CHROMIUM is None:
    pytest.skip("no Chromium on this machine: apt-get install -y chromium (.ci/run does)", allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent
TYPICAL = "claim example-typical-2024: PAY, total allowed $105.53"


@pytest.fixture(scope="module")
def server():
    process = subprocess.Popen([sys.executable, "-m", "ctsdsl", "serve", "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True)
    try:
        line = process.stdout.readline()  # the first line says where it listens
        assert line.startswith("ctsdsl playground: http://127.0.0.1:"), line + process.stderr.read()
        yield line.split()[2]
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        try:
            launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        except playwright.Error as exc:
            pytest.skip(f"Chromium at {CHROMIUM} does not start under Playwright: {exc.message.splitlines()[0]}")
        yield launched
        launched.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context()
    page = context.new_page()
    page.requests = []  # every URL the page asks for, to see that nothing goes elsewhere
    page.errors = []
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.goto(server)
    page.wait_for_selector("body[data-ready=true]", timeout=20_000)
    yield page
    context.close()


def wait_until(page, check, what: str, seconds: float = 20) -> None:
    # Not page.wait_for_function: it evaluates a string, which the page's CSP (no 'unsafe-eval') refuses.
    # page.wait_for_timeout, not time.sleep: Playwright's sync API takes in the page's events only while it waits.
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(50)


def decide(page) -> str:
    page.click("#evaluate")
    page.wait_for_selector("#outcome, #error", timeout=20_000)
    return page.inner_text("#outcome") if page.query_selector("#outcome") else page.inner_text("#error")


def test_the_bundled_example_is_decided_on_the_page(page, server):
    assert page.input_value("#example-select") == "typical.json"
    assert decide(page) == TYPICAL
    assert page.locator(".lines td.status").all_inner_texts() == ["allowed", "allowed"]
    fee = page.locator(".rule[data-rule=physician_fee_schedule]").first
    assert "read conversion_factor = 33.2875" in fee.inner_text()
    assert "cites" in page.locator(".rule[data-rule=no_mppr]").inner_text()
    assert all(url.startswith(server) for url in page.requests), page.requests
    assert page.errors == []


def test_an_edit_that_breaks_the_policy_is_marked_at_its_line(page):
    page.select_option("#policy-select", "medicare-cts-2024")
    wait_until(page, lambda: "fee_known" in page.input_value("#policy-text"), "the policy's text")
    text = page.input_value("#policy-text")
    broken = text.replace("applies to line where fee_known", "applies to line where fee_knwn", 1)
    line = broken[:broken.index("fee_knwn")].count("\n") + 1
    # Set as a paste would, in one input event: page.fill types 40 kB into the textarea in about 11 s.
    page.locator("#policy-text").evaluate("(t, text) => { t.value = text; t.dispatchEvent(new Event('input')); }",
                                          broken)
    item = page.wait_for_selector("#policy-diagnostics li.error", timeout=20_000)
    assert item.inner_text().startswith(f"{line}:")
    assert "fee_knwn" in item.inner_text()
    assert page.locator("#policy-gutter span.error").first.inner_text().strip() == str(line)
    assert decide(page).startswith("not decided (422")


def test_a_share_link_restores_the_policy_and_claim_without_sending_them(page, browser, server):
    page.select_option("#example-select", "group.json")
    expected = decide(page)
    page.click("#share")
    wait_until(page, lambda: "#z=" in page.url or "#j=" in page.url, "the share link")
    link = page.url
    fragment = link.split("#", 1)[1]
    other = browser.new_context().new_page()
    seen = []
    other.on("request", lambda r: seen.append(r.url))
    other.goto(link)
    other.wait_for_selector("#outcome", timeout=20_000)
    assert other.inner_text("#outcome") == expected
    assert other.input_value("#claim-text") == page.input_value("#claim-text")
    assert seen and all("#" not in url and fragment not in url for url in seen)  # the fragment stays in the browser
    other.context.close()


def test_a_claim_with_a_syntax_error_is_located_in_the_claim(page):
    page.fill("#claim-text", '{\n  "id": "x",\n  oops\n}')
    assert decide(page).startswith("not decided (422")
    item = page.wait_for_selector("#claim-diagnostics li")
    assert item.inner_text().startswith("3:3 error claim-syntax")
    started = time.monotonic()
    item.click()  # puts the cursor where the problem is
    assert page.locator("#claim-text").evaluate("t => t.selectionStart") == len('{\n  "id": "x",\n  ')
    assert time.monotonic() - started < 10
