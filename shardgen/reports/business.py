"""Reports: customers by region, sales by category, receivables aging, monthly revenue.

`report` reads a store in one streaming pass per table and returns every figure
as an exact integer (money in cents); `render_text` and `render_html` present
the same figures for a terminal and as one self-contained HTML page. What a
later table needs of an earlier one (a customer's state, a product's cost and
category) is kept in arrays indexed by ID, and totals in dicts keyed by small
domains (states, statuses, invoice days), never as a list of rows.

How each figure is defined (the reports say so too):

- A customer's state is the state of their primary (billing) address; regions
  are the four Census regions.
- Revenue is Σ invoice subtotal: before tax, over invoices of every status.
  A customer's revenue counts in the customer's state. Product and category
  revenue is Σ line_total, which adds up to the same total.
- Cost is Σ quantity × the product's cost; margin is revenue − cost.
- Invoice amounts by status and aging are Σ total (with tax): what is billed.
- Aging puts each unpaid invoice in a bucket by days past due at as_of
  (as_of − due_date): current (not yet due), 1-30, 31-60, 61-90, 90+.
- Monthly revenue is Σ subtotal by invoice_date month, over the 12 calendar
  months that end with as_of's month.
"""

from __future__ import annotations

import datetime as dt
import heapq
import os
import time
from array import array
from collections import Counter
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import NamedTuple

import msgspec

from ..guard import write_file
from ..make.vocabulary import CENSUS_REGIONS
from ..plan import EPOCH
from ..store import Store, isolated, reading
from .page import Bar, columns, document, hbars, money_short, table
from .statistics import AGING_BUCKETS, aging_bucket, aligned

SECTION_IDS = ("customers", "sales", "invoices", "months")
TITLES = (
    "Customers by region and state",
    "Product sales by category",
    "Invoice status and receivables aging",
    "Monthly revenue",
)
INVOICE_STATUSES = ("pending", "paid", "overdue")
TOP_PRODUCTS = 10
MONTHS = 12
UNKNOWN = "unknown"
REGION_OF = {state: region for region, states in CENSUS_REGIONS.items() for state in states}
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


class CustomerRow(msgspec.Struct):
    """The customers of a state; of a region (state ""); or of all (region and state "")."""

    region: str
    state: str
    customers: int
    active: int
    credit_cents: int
    revenue_cents: int


class SalesRow(msgspec.Struct):
    """Sales of a category (id 0) or of one product."""

    name: str
    category: str
    units: int
    revenue_cents: int
    cost_cents: int
    margin_cents: int
    id: int = 0


class AmountRow(msgspec.Struct):
    """Invoices in a group (a status, an aging bucket, a month) and their amount."""

    label: str
    invoices: int
    amount_cents: int


class Report(msgspec.Struct):
    """The four reports' figures: counts, and money as integer cents."""

    path: str
    as_of: str
    states: list[CustomerRow]
    regions: list[CustomerRow]
    customer_total: CustomerRow
    categories: list[SalesRow]
    category_total: SalesRow
    top_products: list[SalesRow]
    statuses: list[AmountRow]
    status_total: AmountRow
    aging: list[AmountRow]
    aging_total: AmountRow
    months: list[AmountRow]
    before_months: AmountRow
    seconds: float


def report(path: str | os.PathLike[str]) -> Report:
    """The reports of the store at `path`.

    >>> r = report("shardgen.lmdb")  # doctest: +SKIP
    >>> r.customer_total.revenue_cents == r.category_total.revenue_cents  # doctest: +SKIP
    True
    """
    return isolated(Path(path), _report_at, Path(path))


def _report_at(path: Path) -> Report:
    with Store.open(path) as store, reading(store.path):
        return report_store(store)


def write_html(
    r: Report, to: str | os.PathLike[str], *, source: Path | None = None, force: bool = False
) -> Path:
    """Write the reports as one HTML page at `to` (`render_html`), the safe way:
    never over the store read (`source`) or another store, never over an
    existing file without `force`, never half-written."""
    target = Path(to)
    write_file(target, render_html(r).encode(), what="--html", source=source, force=force)
    return target


def report_store(store: Store) -> Report:
    """The reports of an open store: one streaming pass over five of its tables."""
    started = time.perf_counter()
    plan = store.plan()
    as_of = plan.as_of_day

    # -- addresses, then customers and invoices: everything keyed by state ----------
    n_customers = max(plan.customers, store.max_id("customers")) + 1
    state_names = [UNKNOWN]  # index 0: a customer without a primary address
    state_index = {UNKNOWN: 0}
    state_of = array("H", bytes(2 * n_customers))
    for a in store.scan("customer_addresses"):
        if a.is_primary and 0 < a.customer_id < n_customers:
            index = state_index.get(a.state)
            if index is None:
                index = state_index[a.state] = len(state_names)
                state_names.append(a.state)
            state_of[a.customer_id] = index
    customers = [0] * len(state_names)
    active = [0] * len(state_names)
    credit = [0] * len(state_names)
    revenue = [0] * len(state_names)
    for c in store.scan("customers"):
        s = state_of[c.id] if 0 < c.id < n_customers else 0
        customers[s] += 1
        active[s] += c.status == "active"
        credit[s] += c.credit_limit

    status_count: Counter[str] = Counter()
    status_cents: Counter[str] = Counter()
    aging_count: Counter[str] = Counter()
    aging_cents: Counter[str] = Counter()
    day_count: Counter[int] = Counter()
    day_cents: Counter[int] = Counter()
    for inv in store.scan("invoices"):
        cid = inv.customer_id
        revenue[state_of[cid] if 0 < cid < n_customers else 0] += inv.subtotal
        status_count[inv.status] += 1
        status_cents[inv.status] += inv.total
        if inv.paid_date is None:
            bucket = aging_bucket(as_of - inv.due_date)
            aging_count[bucket] += 1
            aging_cents[bucket] += inv.total
        day_count[inv.invoice_date] += 1
        day_cents[inv.invoice_date] += inv.subtotal
    del state_of

    states, regions, customer_total = _customer_rows(
        state_names, customers, active, credit, revenue
    )

    # -- products, then line items: per-product arrays, folded into categories ------
    categories = sorted(store.scan("product_categories"), key=lambda c: (c.sort_order, c.id))
    category_name = {c.id: c.name for c in categories}
    n_products = max(plan.products, store.max_id("products")) + 1
    cost = array("q", bytes(8 * n_products))
    category_of = array("I", bytes(4 * n_products))
    for p in store.scan("products"):
        if 0 < p.id < n_products:
            cost[p.id] = p.cost
            category_of[p.id] = p.product_category_id
    units = array("q", bytes(8 * n_products))
    sales = array("q", bytes(8 * n_products))
    for li in store.scan("invoice_line_items"):
        pid = li.product_id
        if 0 < pid < n_products:
            units[pid] += li.quantity
            sales[pid] += li.line_total
    by_category = {c.id: [0, 0, 0] for c in categories}  # units, revenue, cost
    for pid in range(1, n_products):
        if units[pid]:
            totals = by_category.setdefault(category_of[pid], [0, 0, 0])
            totals[0] += units[pid]
            totals[1] += sales[pid]
            totals[2] += units[pid] * cost[pid]
    category_rows = [
        _sales(category_name.get(cid, f"category {cid}"), "", u, r, c)
        for cid, (u, r, c) in by_category.items()
    ]
    category_total = _sales(
        "All categories",
        "",
        sum(t[0] for t in by_category.values()),
        sum(t[1] for t in by_category.values()),
        sum(t[2] for t in by_category.values()),
    )
    best = heapq.nlargest(
        TOP_PRODUCTS,
        (pid for pid in range(1, n_products) if sales[pid]),
        key=lambda pid: (sales[pid], -pid),
    )
    top_products = []
    for pid in best:
        product = store.get("products", pid)
        top_products.append(
            _sales(
                product.name if product else f"product {pid}",
                category_name.get(category_of[pid], ""),
                units[pid],
                sales[pid],
                units[pid] * cost[pid],
                pid,
            )
        )

    # -- invoice groups ------------------------------------------------------------
    statuses = [
        AmountRow(s, status_count[s], status_cents[s])
        for s in (*INVOICE_STATUSES, *sorted(set(status_count) - set(INVOICE_STATUSES)))
    ]
    aging = [AmountRow(b, aging_count[b], aging_cents[b]) for b in AGING_BUCKETS]
    months, before = _months(as_of, day_count, day_cents)
    return Report(
        path=str(store.path),
        as_of=plan.as_of,
        states=states,
        regions=regions,
        customer_total=customer_total,
        categories=category_rows,
        category_total=category_total,
        top_products=top_products,
        statuses=statuses,
        status_total=_sum_rows("All invoices", statuses),
        aging=aging,
        aging_total=_sum_rows("All unpaid", aging),
        months=months,
        before_months=before,
        seconds=round(time.perf_counter() - started, 3),
    )


def _sales(name: str, category: str, units: int, revenue: int, cost: int, pid: int = 0) -> SalesRow:
    return SalesRow(name, category, units, revenue, cost, revenue - cost, pid)


def _sum_rows(label: str, rows: Sequence[AmountRow]) -> AmountRow:
    return AmountRow(label, sum(r.invoices for r in rows), sum(r.amount_cents for r in rows))


def _customer_rows(
    names: list[str],
    customers: list[int],
    active: list[int],
    credit: list[int],
    revenue: list[int],
) -> tuple[list[CustomerRow], list[CustomerRow], CustomerRow]:
    """State rows (by region, then revenue), region subtotals and the grand total."""
    rows = [
        CustomerRow(
            REGION_OF.get(name, UNKNOWN), name, customers[i], active[i], credit[i], revenue[i]
        )
        for i, name in enumerate(names)
        if customers[i] or revenue[i]
    ]
    order = [*CENSUS_REGIONS, UNKNOWN]
    rows.sort(key=lambda r: (order.index(r.region), -r.revenue_cents, r.state))
    regions = []
    for region in order:
        members = [r for r in rows if r.region == region]
        if members or region != UNKNOWN:
            regions.append(_subtotal(region, "", members))
    return rows, regions, _subtotal("", "", regions)


def _subtotal(region: str, state: str, rows: Sequence[CustomerRow]) -> CustomerRow:
    return CustomerRow(
        region,
        state,
        sum(r.customers for r in rows),
        sum(r.active for r in rows),
        sum(r.credit_cents for r in rows),
        sum(r.revenue_cents for r in rows),
    )


def _months(
    as_of: int, day_count: Counter[int], day_cents: Counter[int]
) -> tuple[list[AmountRow], AmountRow]:
    """The 12 calendar months ending with as_of's month, and what falls before them."""
    last = EPOCH + dt.timedelta(days=as_of)
    keys = []
    year, month = last.year, last.month
    for _ in range(MONTHS):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    keys.reverse()
    count = dict.fromkeys(keys, 0)
    cents = dict.fromkeys(keys, 0)
    before = AmountRow(f"before {keys[0]}", 0, 0)
    for day, n in day_count.items():
        date = EPOCH + dt.timedelta(days=day)
        key = f"{date.year:04d}-{date.month:02d}"
        if key in count:
            count[key] += n
            cents[key] += day_cents[day]
        else:  # nothing is dated after as_of, so this is earlier
            before.invoices += n
            before.amount_cents += day_cents[day]
    return [AmountRow(k, count[k], cents[k]) for k in keys], before


# -- formatting ---------------------------------------------------------------------


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


def _tables(r: Report) -> list[list[_Table]]:
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
    total = _sum_rows("total", [*r.months, r.before_months])
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


def render_text(r: Report) -> str:
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


# -- HTML ---------------------------------------------------------------------------


def render_html(r: Report) -> str:
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
