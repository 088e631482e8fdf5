"""Rendering: the stats and the business report as text, and the report as an HTML page."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import msgspec
import pytest

from shardgen.pipeline import Summary
from shardgen.reports.business import BusinessReport, report
from shardgen.reports.rendering import (
    TITLES,
    money,
    percent,
    render_html,
    render_stats,
    render_text,
)
from shardgen.reports.statistics import AGING_BUCKETS, Stats, stats


@pytest.fixture(scope="module")
def profile(large_store: tuple[Path, Summary]) -> Stats:
    return stats(large_store[0])


@pytest.fixture(scope="module")
def business(large_store: tuple[Path, Summary]) -> BusinessReport:
    return report(large_store[0])


def test_render_lists_every_target_first(profile: Stats) -> None:
    s = profile
    text = render_stats(s)
    lines = text.splitlines()
    assert "all targets met" in lines[0]
    assert text.index("Targets") < text.index("Rows") < text.index("Aging")
    for t in s.targets:
        line = next(line for line in lines if t.name in line)
        assert t.target in line
        assert line.endswith(" ok"), line
    assert "MISS" not in text
    for bucket in AGING_BUCKETS:
        assert any(line.split()[:1] == [bucket] for line in lines), bucket


def test_render_marks_a_missed_target(profile: Stats) -> None:
    s = profile
    first = msgspec.structs.replace(s.targets[0], ok=False)
    text = render_stats(msgspec.structs.replace(s, targets=[first, *s.targets[1:]]))
    line = next(line for line in text.splitlines() if first.name in line)
    assert line.endswith(" MISS"), line
    assert f"1 of {len(s.targets)} targets MISSED" in text.splitlines()[0]


def test_html_is_well_formed_and_self_contained(business: BusinessReport) -> None:
    r = business
    page = render_html(r)
    assert page.startswith("<!DOCTYPE html>")
    root = ET.fromstring(page.removeprefix("<!DOCTYPE html>"))  # well-formed XML, too
    assert root.tag == "html"
    assert len(root.findall(".//svg")) == 4
    headings = [h.text or "" for h in root.iter("h2")]
    assert headings == [f"{i}. {title}" for i, title in enumerate(TITLES, start=1)]
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(", page, re.IGNORECASE)
    assert not re.search(r"\b(src|href)\s*=", page, re.IGNORECASE)
    assert money(r.customer_total.revenue_cents) in page
    assert money(r.aging_total.amount_cents) in page
    for state in r.states:
        assert f"<td>{state.state}</td>" in page


def test_text_shows_every_section_and_total(business: BusinessReport) -> None:
    r = business
    text = render_text(r)
    for i, title in enumerate(TITLES, start=1):
        assert f"{i}. {title}" in text
    assert "before tax" in text
    for figure in (r.customer_total.revenue_cents, r.customer_total.credit_cents,
                   r.category_total.margin_cents, r.status_total.amount_cents,
                   r.aging_total.amount_cents):  # fmt: skip
        assert money(figure) in text


@pytest.mark.parametrize(
    ("cents_", "text"),
    [
        (0, "$0.00"),
        (5, "$0.05"),
        (-5, "-$0.05"),
        (123_456, "$1,234.56"),
        (10**12, "$10,000,000,000.00"),
    ],
)
def test_money_is_exact(cents_: int, text: str) -> None:
    assert money(cents_) == text


def test_percent_rounds_half_up() -> None:
    assert percent(1, 3) == "33.3%" and percent(1, 2000) == "0.1%" and percent(0, 0) == "–"
    assert percent(2, 3) == "66.7%" and percent(-1, 3) == "-33.3%"
