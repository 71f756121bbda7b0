"""The accessibility scan itself: it finds serious and critical violations (so a journey
that passes it has none), and it runs under the pages' Content-Security-Policy."""

from __future__ import annotations

import pytest

from .axe import AXE_PATH, AxeLog

pytestmark = pytest.mark.slow

BROKEN = """<!doctype html><html lang="en"><head><title>Broken</title></head><body><main>
<h1>Broken</h1><ul role="status"><li>Saved.</li></ul><button></button>
<input type="text" aria-describedby="nowhere"></main></body></html>"""


def test_the_scan_reports_serious_and_critical_violations(browser, axe):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content(BROKEN)
        page.add_script_tag(path=str(AXE_PATH))  # no CSP on a page of our own
        found = {v["id"]: v["impact"] for v in AxeLog().scan(page, "broken")}
    finally:
        context.close()
        axe.violations.clear()  # this page is no journey's
    assert found.get("button-name") == "critical"  # a button without a name
    assert found.get("listitem") == "serious"  # the old flash-message list
