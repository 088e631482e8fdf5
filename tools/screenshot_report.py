#!/usr/bin/env python3
"""Take a full-page screenshot of an HTML report in headless Chromium.

    .venv/bin/python tools/screenshot_report.py report.html report.png

The page is what `shardgen report STORE --html FILE` writes. The browser is
Debian's Chromium (`apt-get install chromium`, which tools/test does), driven by
Playwright (the test extra) without a browser download of its own; the tests
open pages the same way (tests/test_reports_browser.py). The page is loaded
offline, as a reader opening the file would, at the width of a laptop window.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:  # imported when used: without Playwright, the tests skip or fail plainly
    from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

#: Where Debian installs Chromium's launcher; the first `chromium` on PATH wins.
CHROMIUM = Path("/usr/bin/chromium")
#: A laptop window: wide enough for the page's 1000 px column and its margins.
VIEWPORT: ViewportSize = {"width": 1100, "height": 800}


def find_chromium() -> Path | None:
    """Chromium's launcher: `chromium` on PATH, else Debian's, else None."""
    found = shutil.which("chromium")
    if found:
        return Path(found)
    return CHROMIUM if CHROMIUM.exists() else None


@contextlib.contextmanager
def chromium(executable: Path) -> Iterator[Browser]:
    """A headless Chromium run by Playwright from `executable`, closed afterwards.

    Raises ImportError without Playwright, and Playwright's Error if Chromium
    does not start.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            yield browser
        finally:
            browser.close()


def offline_context(browser: Browser) -> BrowserContext:
    """A fresh context with no network, at VIEWPORT's size: a request the page
    makes fails and goes nowhere (a listener on the context still sees it)."""
    return browser.new_context(viewport=VIEWPORT, offline=True)


def load(context: BrowserContext, html: Path) -> Page:
    """`html` opened in a new page of `context`, once it and its resources have loaded."""
    page = context.new_page()
    page.goto(html.resolve().as_uri(), wait_until="load")
    return page


def screenshot(browser: Browser, html: Path, png: Path) -> None:
    """Write a PNG of the whole page `html` (all of its height) to `png`,
    replacing it if it exists (a picture in docs/ is redrawn this way)."""
    context = offline_context(browser)
    try:
        load(context, html).screenshot(path=png, full_page=True, type="png")
    finally:
        context.close()


def first_line(error: Exception) -> str:
    """The first line of a browser error: Playwright's next ones are its launch log."""
    return (str(error).strip() or type(error).__name__).splitlines()[0]


def refuse(message: str) -> NoReturn:
    """A mistake the user can fix: one line on stderr, exit status 2."""
    print(f"screenshot_report: error: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv: list[str] | None = None) -> int:
    """The command: the screenshot, or one line on stderr saying what to do."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="the report page (shardgen report --html)")
    parser.add_argument("png", type=Path, help="where to write the screenshot")
    parser.add_argument("--chromium", type=Path, help="Chromium's executable (default: found)")
    args = parser.parse_args(argv)
    try:
        from playwright.sync_api import Error as BrowserError
    except ImportError:
        refuse(
            f"Playwright is not installed for {sys.executable}: run this with .venv/bin/python, "
            "where tools/bootstrap installs it (the test extra)"
        )
    if args.chromium is not None and not args.chromium.exists():
        refuse(f"{args.chromium} does not exist: give Chromium's executable to --chromium")
    executable = args.chromium or find_chromium()
    if executable is None:
        refuse("Chromium is not installed: apt-get install chromium, or give --chromium")
    if not args.html.is_file():
        refuse(f"{args.html} is not a file: give the page `shardgen report --html` wrote")
    if not args.png.parent.is_dir():
        refuse(f"{args.png.parent} does not exist: create it or choose another PNG path")
    try:
        with chromium(executable) as browser:
            screenshot(browser, args.html, args.png)
    except BrowserError as error:
        print(f"screenshot_report: error: {executable} failed: {first_line(error)}: "
              "check that it is Chromium (apt-get install chromium) and starts headless",
              file=sys.stderr)  # fmt: skip
        return 1
    print(f"screenshot of {args.html} written to {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
