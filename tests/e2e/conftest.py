"""Browser tests: Playwright driving Debian's Chromium against the real server on loopback.

Chromium comes from Debian's package (`apt-get install chromium`, done by
.ci/run); Playwright's own browser download is never used. The flags keep a
headless Chromium quiet on a machine without internet.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .axe import AXE_PATH, AxeLog

# Playwright's sync API runs an event loop in this thread; the ORM calls the
# tests make around it are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
# Kept by CI as artefacts: screenshots of each journey's steps and each test's axe report.
ARTIFACTS_ROOT = Path(os.environ.get("E2E_ARTIFACTS_DIR")
                      or Path(__file__).resolve().parents[2] / "test-artifacts")
ARTIFACTS = ARTIFACTS_ROOT / "screenshots"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}; .ci/run installs it.")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS,
                                             headless=True)
        yield browser
        browser.close()


@pytest.fixture
def phone(browser):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


@pytest.fixture(autouse=True)
def axe(request, browser) -> Iterator[AxeLog]:
    """Every browser context a test opens carries axe-core, and every page it loads is
    scanned; the test fails on any serious or critical violation (report under
    test-artifacts/axe/)."""
    log = AxeLog()
    new_context = browser.new_context

    def scanned_context(*args, **kwargs):
        context = new_context(*args, **kwargs)
        context.add_init_script(path=str(AXE_PATH))
        context.on("page", log.watch)
        return context

    browser.new_context = scanned_context
    try:
        yield log
    finally:
        del browser.new_context  # back to the class's method
    folder = ARTIFACTS_ROOT / "axe"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{request.node.name}.json").write_text(
        log.report() + "\n" + "\n".join(["scanned:", *log.scanned, "missed:", *log.missed,
                               "skipped:", *log.skipped]))
    assert not log.violations, "axe-core: serious or critical violations\n" + log.report()


@pytest.fixture
def screenshot(request, axe):
    """Save a full-page screenshot as a test artefact, and scan that state with axe-core:
    screenshot(page, "step-name")."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        axe.scan(page, name)
        return path

    return take

