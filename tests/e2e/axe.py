"""axe-core in the browser journeys: every page they visit is scanned, and a serious or
critical violation fails the test (HR buyers ask for WCAG 2.2 AA).

axe.min.js (tests/e2e/vendor/axe-core, MPL-2.0) is added to each page through the DevTools
protocol (an init script), so the pages' Content-Security-Policy, which allows no inline
script, stays as strict as in production.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

AXE_PATH = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
FAILING = ("serious", "critical")
# Pages that are not ours to fix: Swagger UI (drf-spectacular-sidecar, the developers' API
# reference) brings its own stylesheet and markup, whose method badges fail colour contrast
# and whose operation rows nest controls. They are listed as skipped in the report, never
# silently passed; every page HR admins and employees use is scanned.
THIRD_PARTY = ("/api/v1/docs/",)
# WCAG 2.0, 2.1 and 2.2, A and AA, plus axe's best practices (which include the list rules).
RUN = """async (impacts) => {
  if (!window.axe) return null;
  // One run at a time per page: the scan on load and a screenshot's scan may overlap, and
  // axe refuses a second run while one is going ("Axe is already running").
  const before = window.__axeQueue || Promise.resolve();
  const run = before.catch(() => null).then(() => window.axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa",
                                    "best-practice"]},
    resultTypes: ["violations"],
  }));
  window.__axeQueue = run;
  const results = await run;
  return results.violations.filter((v) => impacts.includes(v.impact)).map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " :: " + n.failureSummary),
  }));
}"""


@dataclass
class AxeLog:
    """What was scanned in one test, and what failed."""

    scanned: list[str] = field(default_factory=list)
    violations: dict[str, list[dict]] = field(default_factory=dict)
    missed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def scan(self, page, label: str = "") -> list[dict]:
        """Scan the page as it is now; record and return its serious/critical violations."""
        if any(part in page.url for part in THIRD_PARTY):
            self.skipped.append(f"{label or 'page'} {page.url} (third-party UI)")
            return []
        found = page.evaluate(RUN, list(FAILING))
        if found is None:  # a page the init script never reached (about:blank, a download)
            return []
        where = f"{label or 'page'} {page.url}"
        self.scanned.append(where)
        if found:
            self.violations[where] = found
        return found

    def watch(self, page) -> None:
        """Scan every page this tab loads, as it loads."""
        def on_load(_page) -> None:
            try:
                self.scan(page, "loaded")
            except Exception as error:  # navigated on before the scan finished
                self.missed.append(f"{page.url}: {error.__class__.__name__}")
        page.on("load", on_load)

    def settled(self, page, timeout_ms: int = 10_000) -> None:
        """Wait until the page now shown has had its load scan. The scan runs when Playwright
        next handles the page's events, which can be after the test's next click: a menu
        opened over the page meanwhile was then scanned as obscuring its links."""
        waited = 0
        while not any(page.url in line for line in (*self.scanned, *self.missed)):
            if waited >= timeout_ms:
                raise AssertionError(f"no axe scan of {page.url} in {timeout_ms} ms")
            page.wait_for_timeout(25)
            waited += 25

    def report(self) -> str:
        return json.dumps(self.violations, indent=1)
