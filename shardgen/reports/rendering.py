"""The reports as a reader sees them: plain text for a terminal, and the business
report as one self-contained HTML page.

`render_stats` shows the stats (reports/statistics.py): the targets first, then
the distributions. `render_text` and `render_html` show the business report
(reports/business.py) from the same tables, with money exact to the cent and
shares rounded half up; the page's charts and stylesheet come from
reports/page.py, and `write_html` writes it the safe way.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any, NamedTuple

from ..guard import write_file
from .business import AmountRow, BusinessReport, CustomerRow, SalesRow, sum_rows
from .page import Bar, columns, document, hbars, money_short, table
from .statistics import Stats
from .targets import BEST_SELLER_FRACTION, Target, percentage

SECTION_IDS = ("customers", "sales", "invoices", "months")
TITLES = (
    "Customers by region and state",
    "Product sales by category",
    "Invoice status and receivables aging",
    "Monthly revenue",
)
DEFINITIONS = {
    "revenue": "Revenue is the sum of invoice subtotals, before tax, over invoices of every "
    "status (pending, paid, overdue).",
    "customers": "A customer's state is the state of their primary billing address; a "
    "customer's revenue counts in that state. Active = customers with status active. "
    "Credit = sum of credit limits.",
    "sales": "Revenue = sum of line totals (after line discounts, before tax); cost = sum of "
    "quantity × the product's cost; margin = revenue − cost; margin % = margin / revenue.",
    "invoices": "Amounts are invoice totals, tax included. Aging covers unpaid invoices "
    "(pending and overdue) by days past due at as_of (as_of − due_date); current = not yet due.",
    "months": "Revenue (sum of subtotals, before tax) by the month of the invoice date, over the "
    "12 calendar months ending with as_of's month.",
}


def aligned(header: tuple[str, ...], rows: Sequence[tuple[str, ...]], right: set[int]) -> list[str]:
    """Rows as aligned columns: numbers (columns in `right`) right-aligned."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = []
    for row in (header, *rows):
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def _counts(counts: dict[Any, int], total: int, label: str) -> list[str]:
    rows = [(str(key), f"{n:,}", f"{percentage(n, total):.1f}") for key, n in counts.items()]
    return aligned((label, "count", "%"), rows, {1, 2})


def _actual(target: Target) -> str:
    return f"{target.actual:.1f}" if target.name.endswith("%") else f"{target.actual:g}"


def render_stats(s: Stats) -> str:
    """The stats as text for a terminal: the targets first, then the distributions."""
    missed = sum(1 for t in s.targets if not t.ok)
    verdict = "all targets met" if not missed else f"{missed} of {len(s.targets)} targets MISSED"
    if s.generated_as_of:
        # The targets describe a generated store: an advanced one drifts.
        verdict = f"advanced from {s.generated_as_of}; " + (
            f"all {len(s.targets)} of generate's targets still hold"
            if not missed
            else f"{missed} of generate's {len(s.targets)} targets drifted"
        )
    out = [f"{s.path} (as of {s.as_of}): {verdict}", "", "Targets"]
    out += aligned(
        ("target", "actual", "wanted", ""),
        [
            (
                t.name,
                _actual(t),
                t.target,
                "ok" if t.ok else "drift" if s.generated_as_of else "MISS",
            )
            for t in s.targets
        ],
        {1},
    )
    out += ["", "Rows"]
    out += aligned(("table", "rows"), [(k, f"{n:,}") for k, n in s.rows.items()], {1})
    customers = s.rows.get("customers", 0)
    invoices = s.rows.get("invoices", 0)
    out += ["", "Customers by status", *_counts(s.customer_status, customers, "status")]
    out += ["", "Customers by type", *_counts(s.customer_types, customers, "type")]
    out += ["", "Addresses per customer"]
    out += _counts(s.addresses_per_customer, customers, "addresses")
    out += ["", "Line items per invoice", *_counts(s.lines_per_invoice, invoices, "line items")]
    out += ["", "Invoices by status", *_counts(s.invoice_status, invoices, "status")]
    out += ["", "Aging of unpaid invoices (days past due)"]
    out += aligned(
        ("bucket", "invoices", "amount $"),
        [(bucket, f"{int(v['count']):,}", f"{v['amount']:,.2f}") for bucket, v in s.aging.items()],
        {1, 2},
    )
    out += ["", "Top states (primary address)"]
    out += _counts(dict(s.top_states), customers, "state")
    out += ["", "Top products (line items)"]
    out += aligned(
        ("id", "product", "line items"),
        [(str(pid), name, f"{n:,}") for pid, name, n in s.top_products],
        {0, 2},
    )
    out += [
        f"  the best-selling {BEST_SELLER_FRACTION * 100:g} % of products carry "
        f"{s.best_sellers_share:.1f} % of line items",
        "",
        "Invoice dates",
    ]
    out += aligned(
        ("measure", "%"),
        [
            *((f"{band} days before as_of", f"{pct:.1f}") for band, pct in
              s.invoice_age_bands.items()),
            ("weekend (Sat, Sun)", f"{s.weekend_share:.1f}"),
            ("Q4 (Oct-Dec)", f"{s.q4_share:.1f}"),
        ],
        {1},
    )  # fmt: skip
    out += ["", "Invoices by month"]
    out += aligned(("month", "invoices"), [(m, f"{n:,}") for m, n in s.monthly_invoices.items()],
                  {1})  # fmt: skip
    low, high = s.credit_limit_range
    out += ["", f"Credit limits: ${low:,.2f} to ${high:,.2f}", f"Measured in {s.seconds:.2f} s"]
    return "\n".join(out) + "\n"


def money(cents: int) -> str:
    """Dollars and cents from integer cents, with thousands separators.

    >>> money(123456), money(-5), money(0)
    ('$1,234.56', '-$0.05', '$0.00')
    """
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}${dollars:,}.{rest:02d}"


def percent(part: int, whole: int) -> str:
    """part / whole as a percentage with one decimal, rounded half up in integers.

    >>> percent(1, 3), percent(-1, 8), percent(5, 0)
    ('33.3%', '-12.5%', '–')
    """
    if whole == 0:
        return "–"
    sign = "-" if part * whole < 0 else ""
    tenths = (2000 * abs(part) + abs(whole)) // (2 * abs(whole))
    return f"{sign}{tenths // 10}.{tenths % 10}%"


def _month_name(key: str) -> str:
    return dt.date(int(key[:4]), int(key[5:]), 1).strftime("%b")


def _customer_cells(r: CustomerRow) -> tuple[str, ...]:
    return (
        f"{r.customers:,}",
        f"{r.active:,}",
        percent(r.active, r.customers),
        money(r.credit_cents),
        money(r.revenue_cents),
    )


def _sales_cells(r: SalesRow, *, cost: bool = True) -> tuple[str, ...]:
    return (
        f"{r.units:,}",
        money(r.revenue_cents),
        *((money(r.cost_cents),) if cost else ()),
        money(r.margin_cents),
        percent(r.margin_cents, r.revenue_cents),
    )


def _amount_cells(r: AmountRow, total: AmountRow) -> tuple[str, ...]:
    return (
        f"{r.invoices:,}",
        percent(r.invoices, total.invoices),
        money(r.amount_cents),
        percent(r.amount_cents, total.amount_cents),
    )


class _Table(NamedTuple):
    """A table as both renderers show it: rows are (cells, kind), kind a CSS row class."""

    caption: str
    head: tuple[str, ...]
    rows: list[tuple[tuple[str, ...], str]]
    right: frozenset[int]
    sketch: tuple[int, ...] = ()  # values drawn as text bars in the terminal
    wrap: frozenset[int] = frozenset()  # columns that may wrap on the page


def _totalled(rows: Sequence[tuple[str, ...]]) -> list[tuple[tuple[str, ...], str]]:
    """Rows whose last row is a total."""
    return [(row, "total" if i == len(rows) - 1 else "") for i, row in enumerate(rows)]


def _tables(r: BusinessReport) -> list[list[_Table]]:
    """The tables of each of the four sections."""
    customers: list[tuple[tuple[str, ...], str]] = []
    for region in r.regions:
        customers.append(((region.region, *_customer_cells(region)), "region"))
        for row in r.states:
            if row.region == region.region:
                customers.append(((f"  {row.state}", *_customer_cells(row)), "state"))
    customers.append((("All regions", *_customer_cells(r.customer_total)), "total"))
    products = [
        ((str(rank), str(p.id), p.name, p.category, *_sales_cells(p, cost=False)), "")
        for rank, p in enumerate(r.top_products, start=1)
    ]
    months = [(f"{m.label} {_month_name(m.label)}", f"{m.invoices:,}", money(m.amount_cents))
              for m in r.months]  # fmt: skip
    if r.before_months.invoices:
        b = r.before_months
        months.append((b.label, f"{b.invoices:,}", money(b.amount_cents)))
    total = sum_rows("total", [*r.months, r.before_months])
    months.append(("total", f"{total.invoices:,}", money(total.amount_cents)))
    amount_head = ("invoices", "% of invoices", "amount", "% of amount")
    return [
        [_Table("", ("region / state", "customers", "active", "active %", "credit", "revenue"),
                customers, frozenset({1, 2, 3, 4, 5}))],
        [
            _Table("", ("category", "units", "revenue", "cost", "margin", "margin %"),
                   _totalled([(c.name, *_sales_cells(c)) for c in
                              [*r.categories, r.category_total]]),
                   frozenset({1, 2, 3, 4, 5})),
            _Table(f"Top {len(r.top_products)} products by revenue",
                   ("#", "id", "product", "category", "units", "revenue", "margin", "margin %"),
                   products, frozenset({0, 1, 4, 5, 6, 7}), wrap=frozenset({2})),
        ],
        [
            _Table("Invoices by status", ("status", *amount_head),
                   _totalled([(s.label, *_amount_cells(s, r.status_total))
                              for s in [*r.statuses, r.status_total]]),
                   frozenset({1, 2, 3, 4})),
            _Table("Unpaid invoices by days past due", ("days past due", *amount_head),
                   _totalled([(a.label, *_amount_cells(a, r.aging_total))
                              for a in [*r.aging, r.aging_total]]),
                   frozenset({1, 2, 3, 4})),
        ],
        [_Table("", ("month", "invoices", "revenue"), _totalled(months), frozenset({1, 2}),
                tuple(m.amount_cents for m in r.months))],
    ]  # fmt: skip


def render_text(r: BusinessReport) -> str:
    """The four reports as aligned tables for a terminal."""
    out = [f"{r.path} (as of {r.as_of})", DEFINITIONS["revenue"]]
    for number, (title, tables) in enumerate(zip(TITLES, _tables(r), strict=True), start=1):
        out += ["", f"{number}. {title}"]
        for i, t in enumerate(tables):
            if t.caption:
                out += [t.caption] if i == 0 else ["", t.caption]
            rows = [cells for cells, _kind in t.rows]
            if t.sketch:  # a sketch for the eye: the figures beside it are exact
                top = max(t.sketch) or 1
                bars = ["█" * ((60 * v + top) // (2 * top)) for v in t.sketch]
                rows = [
                    (*row, bar)
                    for row, bar in zip(rows, [*bars, *[""] * (len(rows) - len(bars))], strict=True)
                ]
            out += aligned((*t.head, "") if t.sketch else t.head, rows, set(t.right))
    out += ["", f"Computed in {r.seconds:.2f} s"]
    return "\n".join(out) + "\n"


def render_html(r: BusinessReport) -> str:
    """The four reports as one self-contained HTML page: inline CSS and SVG, no script."""
    regions = sorted(r.regions, key=lambda x: (-x.revenue_cents, x.region))
    categories = sorted(r.categories, key=lambda c: (-c.revenue_cents, c.name))
    average = sum(m.amount_cents for m in r.months) // max(len(r.months), 1)
    charts = [
        hbars("Revenue by Census region", [
            Bar(x.region, (x.revenue_cents,),
                f"{money_short(x.revenue_cents)} · {x.customers:,} customers")
            for x in regions
        ]),
        hbars("Revenue by category: cost and margin", [
            Bar(c.name, (c.cost_cents, c.margin_cents),
                f"{money_short(c.revenue_cents)} · margin "
                f"{percent(c.margin_cents, c.revenue_cents)}", ("cost", "bar-2"))
            for c in categories
        ], legend_items=(("cost", "cost"), ("bar-2", "margin"))),
        columns("Unpaid invoice amounts by days past due", [
            Bar(a.label if a.label == "current" else f"{a.label} days", (a.amount_cents,),
                classes=(f"age-{i}",), note=f"{a.invoices:,} invoices")
            for i, a in enumerate(r.aging)
        ]),
        columns("Revenue by month", [
            Bar(_month_name(m.label), (m.amount_cents,),
                note=m.label[:4] if i == 0 or m.label.endswith("-01") else "")
            for i, m in enumerate(r.months)
        ], reference=(average, f"monthly average {money_short(average)}")),
    ]  # fmt: skip
    figures = [
        (f"{r.customer_total.customers:,}", "customers"),
        (money(r.customer_total.revenue_cents), "revenue (subtotals, before tax)"),
        (percent(r.category_total.margin_cents, r.category_total.revenue_cents), "gross margin"),
        (money(r.aging_total.amount_cents),
         f"unpaid: {r.aging_total.invoices:,} invoices, tax included"),
    ]  # fmt: skip
    body = [
        "<header>",
        "<h1>Business reports</h1>",
        f'<p class="meta">{escape(r.path)} · as of {escape(r.as_of)}</p>',
        f'<p class="def">{escape(DEFINITIONS["revenue"])}</p>',
        '<div class="figures">',
        *(f'<div class="figure"><b>{escape(v)}</b><span>{escape(k)}</span></div>'
          for v, k in figures),
        "</div>",
        "</header>",
    ]  # fmt: skip
    sections = zip(TITLES, SECTION_IDS, charts, _tables(r), strict=True)
    for number, (title, anchor, chart, tables) in enumerate(sections, start=1):
        body += [
            f'<section id="{anchor}">',
            f"<h2>{number}. {escape(title)}</h2>",
            f'<p class="def">{escape(DEFINITIONS[anchor])}</p>',
            chart,
        ]
        for t in tables:
            if t.caption:
                body.append(f"<h3>{escape(t.caption)}</h3>")
            body.append(table(t.head, t.rows, t.right, t.wrap))
        body.append("</section>")
    body.append(f"<footer>shardgen report · computed in {r.seconds:.2f} s</footer>")
    return document(f"shardgen reports · {r.as_of}", body)


def write_html(
    r: BusinessReport,
    to: str | os.PathLike[str],
    *,
    source: Path | None = None,
    force: bool = False,
) -> Path:
    """Write the reports as one HTML page at `to` (`render_html`), the safe way:
    never over the store read (`source`) or another store, never over an
    existing file without `force`, never half-written."""
    target = Path(to)
    write_file(target, render_html(r).encode(), what="--html", source=source, force=force)
    return target
