"""Open a `dvc plots show` / `dvc plots diff` page in a real headless browser with the
network off, and say whether every plot drew. Used by tests/pipeline/test_pipeline_e2e.py
and for the README's screenshot:

    dvc plots diff lw-1.5 cp-0 -o dvc_plots
    python tools/plots_in_browser.py dvc_plots/index.html --screenshot plots.png

Every request that is not a local file is refused and recorded. Prints the
number of vega plots, those that drew (an <svg> or <canvas> with content), the
images, and the refused requests; exits 1 unless every plot drew and nothing
left the machine. Chromium is Debian's (`apt-get install chromium`), driven by
Playwright from PyPI.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# a plot drew when vega-embed left a <canvas> of some size (or an <svg> with marks) in its div
DRAWN = """ids => ids.map(id => document.getElementById(id)).map((div, i) => ({
    id: ids[i],
    drawn: !!div && ([...div.querySelectorAll('canvas')].some(c => c.width > 0 && c.height > 0) ||
                     !!div.querySelector('svg path, svg rect')),
}))"""


def render(page_file: Path, screenshot: Path | None = None, chromium: str = CHROMIUM, timeout_s: float = 60) -> dict:
    """{"plots": n, "drawn": [ids], "blank": [ids], "images": n, "external": [urls]}"""
    from playwright.sync_api import sync_playwright

    external: list[str] = []

    def route(request_route) -> None:
        url = request_route.request.url
        if url.startswith(("file://", "data:", "blob:", "about:")):
            request_route.continue_()
        else:
            external.append(url)
            request_route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900}, offline=True)
            context.route("**/*", route)
            page = context.new_page()
            page.set_default_timeout(timeout_s * 1000)
            page.goto(Path(page_file).resolve().as_uri(), wait_until="load")
            page.wait_for_timeout(1500)  # vega-embed renders asynchronously after load
            ids = re.findall(r"vegaEmbed\('#([^']+)'", Path(page_file).read_text(encoding="utf-8"))
            plots = page.evaluate(DRAWN, ids)
            images = page.evaluate("() => [...document.images].filter(i => i.complete && i.naturalWidth > 0).length")
            if screenshot:
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return {
        "plots": len(plots),
        "drawn": [p["id"] for p in plots if p["drawn"]],
        "blank": [p["id"] for p in plots if not p["drawn"]],
        "images": images,
        "external": external,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("page", type=Path, help="the index.html that dvc plots show/diff wrote")
    parser.add_argument("--screenshot", type=Path, help="also save a full-page PNG here")
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args()
    result = render(args.page, args.screenshot, args.chromium)
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["plots"] and not result["blank"] and not result["external"] else 1)


if __name__ == "__main__":
    main()
