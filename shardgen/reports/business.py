"""Reports: customers by region, sales by category, receivables aging, monthly revenue.

`report` reads a store in one streaming pass per table and returns every figure
as an exact integer (money in cents); reports/rendering.py presents the same
figures for a terminal and as one self-contained HTML page. What a
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
from pathlib import Path
from typing import NamedTuple

import msgspec

from ..make.vocabulary import CENSUS_REGIONS
from ..plan import EPOCH
from ..store import Store, isolated, reading
from .statistics import AGING_BUCKETS, aging_bucket

INVOICE_STATUSES = ("pending", "paid", "overdue")
TOP_PRODUCTS = 10
MONTHS = 12
UNKNOWN = "unknown"
REGION_OF = {state: region for region, states in CENSUS_REGIONS.items() for state in states}


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


class BusinessReport(msgspec.Struct):
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


def report(path: str | os.PathLike[str]) -> BusinessReport:
    """The reports of the store at `path`.

    >>> r = report("shardgen.lmdb")  # doctest: +SKIP
    >>> r.customer_total.revenue_cents == r.category_total.revenue_cents  # doctest: +SKIP
    True
    """
    return isolated(Path(path), _report_at, Path(path))


def _report_at(path: Path) -> BusinessReport:
    with Store.open(path) as store, reading(store.path):
        return report_store(store)


def report_store(store: Store) -> BusinessReport:
    """The reports of an open store: one streaming pass over five of its tables."""
    started = time.perf_counter()
    plan = store.scope()  # an advanced store: as of the day it was advanced to
    n_customers = max(plan.customers, store.max_id("customers")) + 1
    state_names, state_of = _primary_states(store, n_customers)
    customers, active, credit = _customer_totals(store, state_of, len(state_names))
    invoices = _invoice_totals(store, plan.as_of_day, state_of, len(state_names))
    del state_of
    states, regions, customer_total = _customer_rows(
        state_names, customers, active, credit, invoices.revenue
    )
    categories = sorted(store.scan("product_categories"), key=lambda c: (c.sort_order, c.id))
    category_name = {c.id: c.name for c in categories}
    products = _product_sales(store, max(plan.products, store.max_id("products")) + 1)
    category_rows, category_total = _category_rows(
        [c.id for c in categories], category_name, products
    )
    statuses = [
        AmountRow(s, invoices.status_count[s], invoices.status_cents[s])
        for s in (*INVOICE_STATUSES, *sorted(set(invoices.status_count) - set(INVOICE_STATUSES)))
    ]
    aging = [AmountRow(b, invoices.aging_count[b], invoices.aging_cents[b]) for b in AGING_BUCKETS]
    months, before = _months(plan.as_of_day, invoices.day_count, invoices.day_cents)
    return BusinessReport(
        path=str(store.path),
        as_of=plan.as_of,
        states=states,
        regions=regions,
        customer_total=customer_total,
        categories=category_rows,
        category_total=category_total,
        top_products=_top_products(store, category_name, products),
        statuses=statuses,
        status_total=sum_rows("All invoices", statuses),
        aging=aging,
        aging_total=sum_rows("All unpaid", aging),
        months=months,
        before_months=before,
        seconds=round(time.perf_counter() - started, 3),
    )


def _primary_states(store: Store, n_customers: int) -> tuple[list[str], array[int]]:
    """The states of primary addresses (UNKNOWN first), and by customer ID the
    index of the customer's state among them: one pass over customer addresses."""
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
    return state_names, state_of


def _customer_totals(
    store: Store, state_of: array[int], n_states: int
) -> tuple[list[int], list[int], list[int]]:
    """By state index: customers, active customers, and their credit limits in
    cents, from one pass over customers."""
    n_customers = len(state_of)
    customers = [0] * n_states
    active = [0] * n_states
    credit = [0] * n_states
    for c in store.scan("customers"):
        s = state_of[c.id] if 0 < c.id < n_customers else 0
        customers[s] += 1
        active[s] += c.status == "active"
        credit[s] += c.credit_limit
    return customers, active, credit


class InvoiceTotals(NamedTuple):
    """Revenue by the customer's state index; invoices and their totals by status,
    by aging bucket (unpaid ones) and by day; money in cents."""

    revenue: list[int]
    status_count: Counter[str]
    status_cents: Counter[str]
    aging_count: Counter[str]
    aging_cents: Counter[str]
    day_count: Counter[int]
    day_cents: Counter[int]


def _invoice_totals(store: Store, as_of: int, state_of: array[int], n_states: int) -> InvoiceTotals:
    """The invoice totals, from one pass over invoices."""
    n_customers = len(state_of)
    revenue = [0] * n_states
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
    return InvoiceTotals(
        revenue, status_count, status_cents, aging_count, aging_cents, day_count, day_cents
    )


class ProductSales(NamedTuple):
    """By product ID: cost in cents, category ID, units sold and revenue in cents."""

    cost: array[int]
    category_of: array[int]
    units: array[int]
    sales: array[int]


def _product_sales(store: Store, n_products: int) -> ProductSales:
    """The product sales, from one pass over products and one over line items."""
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
    return ProductSales(cost, category_of, units, sales)


def _category_rows(
    category_ids: list[int], category_name: dict[int, str], products: ProductSales
) -> tuple[list[SalesRow], SalesRow]:
    """A row per category (those of `category_ids` in that order, then any other
    that sold), and their total."""
    cost, category_of, units, sales = products
    by_category = {cid: [0, 0, 0] for cid in category_ids}  # units, revenue, cost
    for pid in range(1, len(units)):
        if units[pid]:
            totals = by_category.setdefault(category_of[pid], [0, 0, 0])
            totals[0] += units[pid]
            totals[1] += sales[pid]
            totals[2] += units[pid] * cost[pid]
    rows = [
        _sales(category_name.get(cid, f"category {cid}"), "", u, r, c)
        for cid, (u, r, c) in by_category.items()
    ]
    total = _sales(
        "All categories",
        "",
        sum(t[0] for t in by_category.values()),
        sum(t[1] for t in by_category.values()),
        sum(t[2] for t in by_category.values()),
    )
    return rows, total


def _top_products(
    store: Store, category_name: dict[int, str], products: ProductSales
) -> list[SalesRow]:
    """The TOP_PRODUCTS products with the most revenue, most first."""
    cost, category_of, units, sales = products
    best = heapq.nlargest(
        TOP_PRODUCTS,
        (pid for pid in range(1, len(sales)) if sales[pid]),
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
    return top_products


def _sales(name: str, category: str, units: int, revenue: int, cost: int, pid: int = 0) -> SalesRow:
    return SalesRow(name, category, units, revenue, cost, revenue - cost, pid)


def sum_rows(label: str, rows: Sequence[AmountRow]) -> AmountRow:
    """A row adding up `rows`."""
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
