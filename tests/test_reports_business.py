"""Reports: every figure equals the same figure computed by plain SQL on an export."""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import shardgen
from shardgen.make.vocabulary import CENSUS_REGIONS
from shardgen.pipeline import Summary
from shardgen.reports.business import BusinessReport, report
from shardgen.reports.statistics import AGING_BUCKETS

from .conftest import AS_OF
from .test_cli import run


def cents(column: str) -> str:
    """A NUMERIC money column as exact integer cents."""
    return f"CAST(round({column} * 100) AS INTEGER)"


@pytest.fixture(scope="module")
def large(
    large_store: tuple[Path, Summary], tmp_path_factory: pytest.TempPathFactory
) -> tuple[BusinessReport, sqlite3.Connection]:
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


def test_customers_by_state_and_region_match_sql(
    large: tuple[BusinessReport, sqlite3.Connection],
) -> None:
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


def test_sales_by_category_match_sql(large: tuple[BusinessReport, sqlite3.Connection]) -> None:
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


def test_status_and_aging_match_sql(large: tuple[BusinessReport, sqlite3.Connection]) -> None:
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


def test_monthly_revenue_matches_sql(large: tuple[BusinessReport, sqlite3.Connection]) -> None:
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
