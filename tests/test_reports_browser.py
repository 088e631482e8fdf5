"""The HTML report as a reader sees it: opened from its file in headless Chromium.

The large store's page, written by `shardgen report --html`, is opened once,
offline, by tools/screenshot_report.py's driver (the `browser` fixture), with
every request, console error and script error recorded; the tests then read the
rendered page: what it loaded, its charts' laid-out boxes, the figures a reader
sees. Without Chromium they skip, and in CI they fail (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest

from shardgen.pipeline import Summary

from .test_cli import run

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import screenshot_report as driver

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page


class Visit(NamedTuple):
    """A page open in the browser, and what happened while it loaded."""

    page: Page
    requests: list[str]  # every URL requested, the page's own included
    errors: list[str]  # console errors and uncaught script errors


@contextlib.contextmanager
def visit(browser: Browser, html: Path) -> Iterator[Visit]:
    """`html` opened as the screenshot tool opens it, recording as it loads."""
    context = driver.offline_context(browser)
    requests: list[str] = []
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console: {message.text}")

    context.on("request", lambda request: requests.append(request.url))
    context.on("console", console)
    context.on("weberror", lambda error: errors.append(f"script: {error.error}"))
    try:
        yield Visit(driver.load(context, html), requests, errors)
    finally:
        context.close()


@pytest.fixture(scope="module")
def report_page(
    large_store: tuple[Path, Summary], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """The large store's page, and the text report the same command printed."""
    html = tmp_path_factory.mktemp("page") / "report.html"
    done = run("report", large_store[0], "--html", html)
    assert done.returncode == 0, done.stderr
    return html, done.stdout


@pytest.fixture(scope="module")
def loaded(browser: Browser, report_page: tuple[Path, str]) -> Iterator[Visit]:
    """The report page, opened once for this module's tests."""
    with visit(browser, report_page[0]) as opened:
        yield opened


def test_the_page_loads_alone_and_without_errors(
    loaded: Visit, report_page: tuple[Path, str]
) -> None:
    assert loaded.requests == [report_page[0].resolve().as_uri()], loaded.requests
    assert loaded.errors == [], loaded.errors
    assert loaded.page.title().startswith("shardgen reports")


def test_the_recording_sees_a_request_and_errors(browser: Browser, tmp_path: Path) -> None:
    """The checks above would catch what they look for: a page that asks the
    network for an image and has a failing script."""
    html = tmp_path / "bad.html"
    html.write_text(
        '<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/pixel.png">'
        '<script>console.error("drawn wrong"); undefinedFunction();</script></body></html>'
    )
    with visit(browser, html) as opened:
        assert opened.requests == [html.as_uri(), "http://127.0.0.1:9/pixel.png"]
        assert "console: drawn wrong" in opened.errors
        assert any("undefinedFunction" in e for e in opened.errors if e.startswith("script:"))


#: Each chart's laid-out box, the bars drawn with an area, and the texts whose box
#: leaves the chart's (a label cut off at its edge).
CHARTS = """() => [...document.querySelectorAll("svg, canvas")].map(chart => {
    const box = chart.getBoundingClientRect();
    const outside = t => {
        const r = t.getBoundingClientRect();
        return r.left < box.left - 0.5 || r.right > box.right + 0.5
            || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5;
    };
    const sized = e => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && r.height > 0;
    };
    return {
        tag: chart.tagName.toLowerCase(),
        title: chart.getAttribute("aria-label"),
        width: box.width,
        height: box.height,
        room: chart.parentElement.clientWidth,
        bars: [...chart.querySelectorAll("rect")].filter(sized).length,
        cut: [...chart.querySelectorAll("text")].filter(outside).map(t => t.textContent),
    };
})"""


def test_every_chart_is_drawn_with_a_size(loaded: Visit) -> None:
    charts: list[dict[str, Any]] = loaded.page.evaluate(CHARTS)
    assert [c["tag"] for c in charts] == ["svg"] * 4, charts
    for chart in charts:
        assert chart["width"] > 0 and chart["height"] > 0, chart
        assert chart["width"] <= chart["room"], chart  # within its section
        assert chart["bars"] >= 4, chart  # regions, categories, aging buckets, months
        assert chart["cut"] == [], chart
    page = loaded.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert page[0] <= page[1], "the page scrolls sideways"


def text_row(text: str, first: str) -> list[str]:
    """The cells of the text report's row that starts with `first`."""
    for line in text.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells[0] == first:
            return cells
    raise AssertionError(f"no row {first!r} in the text report")


def test_the_key_figures_a_reader_sees_match_the_store(
    loaded: Visit, report_page: tuple[Path, str], large_store: tuple[Path, Summary]
) -> None:
    rows, text = large_store[1].rows, report_page[1]
    page = loaded.page
    figures = dict(
        page.evaluate("""() => [...document.querySelectorAll(".figure")].map(f =>
            [f.querySelector("span").innerText, f.querySelector("b").innerText])""")
    )
    regions, categories = text_row(text, "All regions"), text_row(text, "All categories")
    unpaid = text_row(text, "All unpaid")
    assert figures == {
        "customers": f"{rows['customers']:,}",
        "revenue (subtotals, before tax)": regions[5],
        "gross margin": categories[5],
        f"unpaid: {unpaid[1]} invoices, tax included": unpaid[3],
    }
    assert regions[1] == f"{rows['customers']:,}"
    assert regions[5] == categories[2] == text_row(text, "total")[2]
    visible = page.inner_text("body")
    assert all(value in visible for value in figures.values())
    totals: list[list[str]] = page.evaluate("""() => [...document.querySelectorAll("tr.total")]
        .map(row => [...row.cells].map(cell => cell.innerText))""")
    assert [row[0] for row in totals] == [
        "All regions", "All categories", "All invoices", "All unpaid", "total",
    ]  # fmt: skip
    for row in totals:
        assert row == text_row(text, row[0])
    assert text_row(text, "All invoices")[1] == f"{rows['invoices']:,}"
    assert text_row(text, "total")[1] == f"{rows['invoices']:,}"


def png_size(data: bytes) -> tuple[int, int]:
    """A PNG's width and height, checked whole: its signature, every chunk's CRC,
    IHDR first and IEND last, and its image data inflating to exactly its rows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        body = data[at + 8 : at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length : at + 12 + length])[0] == zlib.crc32(
            kind + body
        ), kind
        chunks.append((kind, body))
        at += 12 + length
    assert at == len(data) and chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8 and interlace == 0
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(pixels) == height * (1 + width * {0: 1, 2: 3, 4: 2, 6: 4}[colour])
    return width, height


def screenshot(*args: str | Path) -> subprocess.CompletedProcess[str]:
    tool = Path(driver.__file__)
    return subprocess.run(
        [sys.executable, str(tool), *map(str, args)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_screenshot_tool_takes_the_whole_page(
    loaded: Visit, report_page: tuple[Path, str], tmp_path: Path
) -> None:
    png = tmp_path / "report.png"
    done = screenshot(report_page[0], png)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"screenshot of {report_page[0]} written to {png}"
    width, height = png_size(png.read_bytes())
    page_height = loaded.page.evaluate("document.documentElement.scrollHeight")
    assert width == driver.VIEWPORT["width"]
    assert abs(height - page_height) <= 1 and height > 3 * driver.VIEWPORT["height"]


def test_the_screenshot_tool_says_what_to_fix(
    browser: Browser, report_page: tuple[Path, str], tmp_path: Path
) -> None:
    html, png = report_page[0], tmp_path / "out.png"
    for args, code, needle in [
        ((tmp_path / "none.html", png), 2, "is not a file"),
        ((html, tmp_path / "no" / "out.png"), 2, "does not exist"),
        ((html, png, "--chromium", tmp_path / "chromium"), 2, "chromium does not exist"),
        ((html, png, "--chromium", "/bin/false"), 1, "/bin/false failed: BrowserType.launch"),
    ]:
        done = screenshot(*args)
        assert done.returncode == code, done.stderr
        lines = [line for line in done.stderr.splitlines() if "screenshot_report" in line]
        assert len(lines) == 1 and needle in lines[0], done.stderr
        assert "Traceback" not in done.stderr and not png.exists()


def test_an_advanced_store_shows_its_new_month(
    browser: Browser, large_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    """Advanced by a month, the page is as of the new day and its monthly
    revenue chart has the new month, with sales."""
    store = tmp_path / "advanced.lmdb"
    shutil.copyfile(large_store[0], store)
    assert run("advance", store, "--to", "2026-07-30").returncode == 0
    html = tmp_path / "advanced.html"
    done = run("report", store, "--html", html)
    assert done.returncode == 0, done.stderr
    july = text_row(done.stdout, "2026-07 Jul")
    assert int(july[1].replace(",", "")) > 0
    with visit(browser, html) as opened:
        assert opened.requests == [html.resolve().as_uri()] and opened.errors == []
        body = opened.page.inner_text("body")
        assert "as of 2026-07-30" in body
        charts: list[dict[str, Any]] = opened.page.evaluate(CHARTS)
        months = next(c for c in charts if "month" in (c["title"] or "").lower())
        assert months["width"] > 0 and months["height"] > 0 and months["cut"] == []
        labels = opened.page.evaluate(
            """() => [...document.querySelectorAll("svg")].flatMap(s =>
                [...s.querySelectorAll("text")].map(t => t.textContent))"""
        )
        assert any("Jul" in label for label in labels), labels
