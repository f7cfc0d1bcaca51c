"""The docs page in a real headless browser (Debian's chromium driven by Playwright): it loads
from the server alone, renders every operation of the served document (each path, lists and
items, and as many operation blocks as the document has operations), and "Try it out" with a
token answers 200.

Usage: docs_page.py BASE_URL TOKEN PROJECT TABLE...
"""

import json
import sys
import urllib.request

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


METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def main() -> int:
    base, token, project, *tables = sys.argv[1:]
    failures = []
    request = urllib.request.Request(
        f"{base}/api/v1/schema/", headers={"Authorization": f"Token {token}"}
    )
    with urllib.request.urlopen(request) as answer:
        document = json.load(answer)
    documented_paths = set(document["paths"])
    operations = sum(
        1 for item in document["paths"].values() for method in item if method in METHODS
    )
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
            for path in (f"/{{project}}/{table}/", f"/{{project}}/{table}/{{pk}}/"):
                if path in documented_paths and path not in paths:
                    failures.append(f"the page does not list {path}")
            if f"/{{project}}/{table}/" not in documented_paths:
                failures.append(f"the document has no list of {table}")
        if paths != documented_paths:
            failures.append(
                f"the page lists other paths than the document: "
                f"missing {sorted(documented_paths - paths)}, extra {sorted(paths - documented_paths)}"
            )
        rendered = page.locator(".opblock").count()
        print(
            f"docs page: {rendered} operations rendered on {len(paths)} paths "
            f"(the document: {operations} on {len(documented_paths)})"
        )
        if rendered != operations:
            failures.append(f"{rendered} operations rendered, the document has {operations}")

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

        # The switch between structure versions: the top bar offers one document per served
        # version; choosing an older one renders its paths.
        switch = page.locator(".topbar select")
        choices = switch.locator("option").all_inner_texts()
        print(f"docs page: versions offered: {choices}")
        older = [choice for choice in choices if "(newest)" not in choice]
        if len(choices) < 2 or not older:
            failures.append(f"the page offers no switch between versions: {choices}")
        else:
            version = older[0].split()[-1]
            request = urllib.request.Request(
                f"{base}/api/v1/schema/?version={version}",
                headers={"Authorization": f"Token {token}"},
            )
            with urllib.request.urlopen(request) as answer:
                older_paths = set(json.load(answer)["paths"])
            switch.select_option(label=older[0])
            # The page re-renders from the fetched document: wait until it shows its paths.
            shown = set()
            for _ in range(120):
                shown = {
                    path.replace("\u200b", "").strip()
                    for path in page.locator(".opblock-summary-path").all_inner_texts()
                }
                if shown == older_paths:
                    break
                page.wait_for_timeout(250)
            print(f"docs page: version {version}: {len(shown)} paths rendered")
            if shown != older_paths:
                failures.append(
                    f"version {version}: the page lists other paths than its document: "
                    f"missing {sorted(older_paths - shown)}, extra {sorted(shown - older_paths)}"
                )
        if outside:
            failures.append(f"the page requested other hosts: {sorted(set(outside))}")
        browser.close()
    for failure in failures:
        print(f"docs page: FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
