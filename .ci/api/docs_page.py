"""The docs page in a real headless browser (Debian's chromium driven by Playwright): it loads
from the server alone, lists every table's operations, and "Try it out" with a token answers
200.

Usage: docs_page.py BASE_URL TOKEN PROJECT TABLE...
"""

import sys

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> int:
    base, token, project, *tables = sys.argv[1:]
    failures = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page()
        outside = []
        # Every request must go to the server under test: no CDN, no download.
        page.on(
            "request",
            lambda request: outside.append(request.url)
            if not request.url.startswith(base)
            else None,
        )
        page.goto(f"{base}/api/v1/docs/")
        page.wait_for_selector(".opblock", timeout=30_000)
        paths = set(page.locator(".opblock-summary-path").all_inner_texts())
        paths = {path.replace("\u200b", "").strip() for path in paths}
        for table in tables:
            path = f"/{{project}}/{table}/"
            if path not in paths:
                failures.append(f"the page does not list {path}")
        print(f"docs page: {page.locator('.opblock').count()} operations listed")

        # Authorize with the API token, then run one list operation from the page.
        page.click("button.authorize")
        dialog = page.locator(".modal-ux")
        token_section = dialog.locator(".auth-container", has_text="tokenAuth")
        token_section.locator("input").fill(f"Token {token}")
        token_section.locator("button.authorize").click()
        dialog.locator("button.btn-done").first.click()

        first = tables[0]
        operation = page.locator(f"#operations-{first}-{first}_list")
        operation.locator(".opblock-summary").click()
        # The page starts with "Try it out" switched on (tryItOutEnabled).
        try_out = operation.locator("button.try-out__btn")
        if try_out.inner_text().strip() == "Try it out":
            try_out.click()
        operation.locator('tr[data-param-name="project"] input').fill(project)
        operation.locator("button.execute").click()
        status = operation.locator(".live-responses-table tr.response .response-col_status").first
        status.wait_for(timeout=30_000)
        answered = status.inner_text().strip()
        print(f"docs page: try it out on GET /{{project}}/{first}/ answered {answered}")
        if answered != "200":
            failures.append(f"try it out answered {answered}, expected 200")
        if outside:
            failures.append(f"the page requested other hosts: {sorted(set(outside))}")
        browser.close()
    for failure in failures:
        print(f"docs page: FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
