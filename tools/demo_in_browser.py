"""Drive the web demo in a real headless browser: type a review, submit, read
the answer, take a screenshot. Used by tests/serving/test_demo.py and for the README's
screenshot:

    python -m sentiment_pipeline demo &            # http://127.0.0.1:7860
    python tools/demo_in_browser.py --url http://127.0.0.1:7860 --screenshot demo.png "A superb film."

Chromium is Debian's (`apt-get install chromium`), driven by Playwright from
PyPI; Playwright's own browser download is not needed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"


def classify_in_browser(
    url: str, review: str, screenshot: Path | None = None, timeout_s: float = 120, chromium: str = CHROMIUM
) -> dict:
    """Type `review` into the demo at `url`, press Classify and return what the page
    shows: {"label", "bars": {class: percent}, "note", "model_card"}; or
    {"error": toast text} when the page answers with an error."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 760})
            page.set_default_timeout(timeout_s * 1000)
            page.goto(url, wait_until="networkidle")
            page.locator("#review textarea").fill(review)
            page.locator("#classify").click()
            answer = page.locator('#sentiment [data-testid="label-output-value"]')
            toast = page.locator('[data-testid="toast-body"]')
            answer.or_(toast).first.wait_for()
            if toast.count():
                result = {"error": toast.first.inner_text()}
            else:
                bars = {}
                for meter in page.locator("#sentiment meter").all():
                    bars[meter.get_attribute("aria-label")] = float(meter.get_attribute("value")) * 100
                result = {
                    "label": answer.inner_text(),
                    "bars": bars,
                    "note": page.locator("#reading-note").inner_text(),
                }
            result["model_card"] = page.locator("#model-card").inner_text()
            if screenshot:
                page.screenshot(path=str(screenshot), full_page=True)
            return result
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("review")
    parser.add_argument("--url", default="http://127.0.0.1:7860")
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args()
    print(json.dumps(classify_in_browser(args.url, args.review, args.screenshot, chromium=args.chromium), indent=2))


if __name__ == "__main__":
    main()
