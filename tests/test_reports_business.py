"""Reports: every figure equals the same figure computed by plain SQL on an export."""

from __future__ import annotations

import json
import re
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import shardgen
from shardgen.make.vocabulary import CENSUS_REGIONS
from shardgen.pipeline import Summary
from shardgen.reports.business import (
    TITLES,
    Report,
    money,
    percent,
    render_html,
    render_text,
    report,
)
from shardgen.reports.page import money_short, nice_scale
from shardgen.reports.statistics import AGING_BUCKETS

from .conftest import AS_OF
from .test_cli import run


def cents(column: str) -> str:
    """A NUMERIC money column as exact integer cents."""
    return f"CAST(round({column} * 100) AS INTEGER)"


@pytest.fixture(scope="module")
def large(
    large_store: tuple[Path, Summary], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Report, sqlite3.Connection]:
    path, _summary = large_store
    target = tmp_path_factory.mktemp("report") / "x.sqlite"
    shardgen.export(path, format="sqlite", to=target)
    db = sqlite3.connect(target)
    db.execute("CREATE TEMP TABLE region (state TEXT PRIMARY KEY, name TEXT NOT NULL)")
    db.executemany(
        "INSERT INTO region VALUES (?, ?)",
        [(state, name) for name, states in CENSUS_REGIONS.items() for state in states],
    )
    return report(path), db


PRIMARY_STATE = """
    JOIN customer_addresses a ON a.customer_id = {table}.customer_id AND a.is_primary = 1
"""


def test_customers_by_state_and_region_match_sql(large: tuple[Report, sqlite3.Connection]) -> None:
    r, db = large
    by_state = {
        state: (n, active, credit)
        for state, n, active, credit in db.execute(f"""
            SELECT a.state, COUNT(*), SUM(c.status = 'active'), SUM({cents("c.credit_limit")})
            FROM customers c JOIN customer_addresses a ON a.customer_id = c.id AND a.is_primary = 1
            GROUP BY a.state""")
    }  # fmt: skip
    assert {s.state: (s.customers, s.active, s.credit_cents) for s in r.states} == by_state
    revenue = dict(db.execute(f"""
        SELECT a.state, SUM({cents("i.subtotal")}) FROM invoices i
        {PRIMARY_STATE.format(table="i")} GROUP BY a.state"""))  # fmt: skip
    assert {s.state: s.revenue_cents for s in r.states if s.revenue_cents} == revenue

    regions = {
        name: (n, credit)
        for name, n, credit in db.execute(f"""
            SELECT g.name, COUNT(*), SUM({cents("c.credit_limit")})
            FROM customers c JOIN customer_addresses a ON a.customer_id = c.id AND a.is_primary = 1
            JOIN region g ON g.state = a.state GROUP BY g.name""")
    }  # fmt: skip
    assert {g.region: (g.customers, g.credit_cents) for g in r.regions} == regions
    region_revenue = dict(db.execute(f"""
        SELECT g.name, SUM({cents("i.subtotal")}) FROM invoices i
        {PRIMARY_STATE.format(table="i")} JOIN region g ON g.state = a.state
        GROUP BY g.name"""))  # fmt: skip
    assert {g.region: g.revenue_cents for g in r.regions} == region_revenue
    assert [g.region for g in r.regions] == list(CENSUS_REGIONS)

    total = r.customer_total
    n, active, credit = db.execute(
        f"SELECT COUNT(*), SUM(status = 'active'), SUM({cents('credit_limit')}) FROM customers"
    ).fetchone()
    (revenue_total,) = db.execute(f"SELECT SUM({cents('subtotal')}) FROM invoices").fetchone()
    assert (total.customers, total.active, total.credit_cents) == (n, active, credit)
    assert total.revenue_cents == revenue_total


def test_sales_by_category_match_sql(large: tuple[Report, sqlite3.Connection]) -> None:
    r, db = large
    sql = f"""
        SELECT pc.name, SUM(li.quantity), SUM({cents("li.line_total")}),
               SUM(li.quantity * {cents("p.cost")})
        FROM invoice_line_items li JOIN products p ON p.id = li.product_id
        JOIN product_categories pc ON pc.id = p.product_category_id
        GROUP BY pc.name"""
    expected = {name: (units, revenue, cost, revenue - cost)
                for name, units, revenue, cost in db.execute(sql)}  # fmt: skip
    got = {c.name: (c.units, c.revenue_cents, c.cost_cents, c.margin_cents) for c in r.categories}
    assert {name: v for name, v in got.items() if v[0]} == expected
    assert len(r.categories) == db.execute("SELECT COUNT(*) FROM product_categories").fetchone()[0]
    total = r.category_total
    assert total.revenue_cents == sum(v[1] for v in expected.values())
    assert total.margin_cents == sum(v[3] for v in expected.values())
    # Σ line_total = Σ subtotal: both revenue definitions agree.
    assert total.revenue_cents == r.customer_total.revenue_cents

    top = db.execute(f"""
        SELECT p.id, p.name, pc.name, SUM(li.quantity), SUM({cents("li.line_total")}) AS revenue,
               SUM({cents("li.line_total")}) - SUM(li.quantity * {cents("p.cost")})
        FROM invoice_line_items li JOIN products p ON p.id = li.product_id
        JOIN product_categories pc ON pc.id = p.product_category_id
        GROUP BY p.id ORDER BY revenue DESC, p.id LIMIT 10""").fetchall()  # fmt: skip
    assert [(p.id, p.name, p.category, p.units, p.revenue_cents, p.margin_cents)
            for p in r.top_products] == top  # fmt: skip


def test_status_and_aging_match_sql(large: tuple[Report, sqlite3.Connection]) -> None:
    r, db = large
    sql = f"SELECT status, COUNT(*), SUM({cents('total')}) FROM invoices GROUP BY status"
    statuses = {s: (n, amount) for s, n, amount in db.execute(sql)}
    assert {s.label: (s.invoices, s.amount_cents) for s in r.statuses} == statuses
    assert r.status_total.invoices == sum(n for n, _ in statuses.values())

    aging = {b: (n, amount) for b, n, amount in db.execute(f"""
        SELECT CASE WHEN late <= 0 THEN 'current' WHEN late <= 30 THEN '1-30'
                    WHEN late <= 60 THEN '31-60' WHEN late <= 90 THEN '61-90' ELSE '90+' END,
               COUNT(*), SUM(amount)
        FROM (SELECT CAST(julianday(?) - julianday(due_date) AS INTEGER) AS late,
                     {cents("total")} AS amount
              FROM invoices WHERE paid_date IS NULL)
        GROUP BY 1""", (AS_OF,))}  # fmt: skip
    assert {a.label: (a.invoices, a.amount_cents) for a in r.aging} == aging
    assert [a.label for a in r.aging] == list(AGING_BUCKETS)
    assert all(a.invoices for a in r.aging), "every bucket has content at large"
    unpaid = statuses["pending"][0] + statuses["overdue"][0]
    assert r.aging_total.invoices == unpaid
    assert r.aging_total.amount_cents == statuses["pending"][1] + statuses["overdue"][1]


def test_monthly_revenue_matches_sql(large: tuple[Report, sqlite3.Connection]) -> None:
    r, db = large
    months = {m: (n, revenue) for m, n, revenue in db.execute(f"""
        SELECT strftime('%Y-%m', invoice_date), COUNT(*), SUM({cents("subtotal")}) FROM invoices
        WHERE invoice_date >= date(?, 'start of month', '-11 months') GROUP BY 1""",
        (AS_OF,))}  # fmt: skip
    assert [m.label for m in r.months] == [
        "2025-07", "2025-08", "2025-09", "2025-10", "2025-11", "2025-12",
        "2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06",
    ]  # fmt: skip
    assert {m.label: (m.invoices, m.amount_cents) for m in r.months if m.invoices} == months
    n, revenue = db.execute(f"""
        SELECT COUNT(*), coalesce(SUM({cents("subtotal")}), 0) FROM invoices
        WHERE invoice_date < date(?, 'start of month', '-11 months')""",
        (AS_OF,)).fetchone()  # fmt: skip
    assert (r.before_months.invoices, r.before_months.amount_cents) == (n, revenue)
    total = sum(m.amount_cents for m in r.months) + r.before_months.amount_cents
    assert total == r.customer_total.revenue_cents


def test_html_is_well_formed_and_self_contained(large: tuple[Report, sqlite3.Connection]) -> None:
    r, _db = large
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


def test_text_shows_every_section_and_total(large: tuple[Report, sqlite3.Connection]) -> None:
    r, _db = large
    text = render_text(r)
    for i, title in enumerate(TITLES, start=1):
        assert f"{i}. {title}" in text
    assert "before tax" in text
    for figure in (r.customer_total.revenue_cents, r.customer_total.credit_cents,
                   r.category_total.margin_cents, r.status_total.amount_cents,
                   r.aging_total.amount_cents):  # fmt: skip
        assert money(figure) in text


def test_small_store_and_the_cli(small_store: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    result = run("report", small_store, "--html", page)
    assert result.returncode == 0, result.stderr
    assert "1. Customers by region and state" in result.stdout and page.exists()
    ET.fromstring(page.read_text().removeprefix("<!DOCTYPE html>"))
    figures = json.loads(run("report", small_store, "--json").stdout)
    assert figures["customer_total"]["customers"] == 10
    assert figures["customer_total"]["revenue_cents"] == figures["category_total"]["revenue_cents"]
    missing = run("report", small_store, "--html", tmp_path / "no" / "such" / "r.html")
    assert missing.returncode == 2 and "does not exist" in missing.stderr


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


def test_percent_and_chart_labels() -> None:
    assert percent(1, 3) == "33.3%" and percent(1, 2000) == "0.1%" and percent(0, 0) == "–"
    assert percent(2, 3) == "66.7%" and percent(-1, 3) == "-33.3%"
    assert [money_short(c) for c in (0, 1_250, 99_949_999, 99_950_000, 123_456_789)] == [
        "$0", "$12.50", "$999K", "$1M", "$1.23M",
    ]  # fmt: skip
    for top in (1, 7, 99, 100, 101, 973_400, 10**9 + 1):
        axis, step = nice_scale(top)
        assert axis >= top and axis % step == 0 and axis // step <= 5
        assert str(step).strip("0") in ("1", "2", "5")
