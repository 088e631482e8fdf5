"""Stats: one streaming pass per table, measuring the data against its realism targets.

DESIGN.md's "Realism" section promises shares (customer statuses, addresses
per customer, line items per invoice, invoice ages), skews (best sellers,
populous states, few weekend invoices) and content (every aging bucket, phone
area codes that serve the address). `stats` measures each of them, and
reports/targets.py says whether it holds, next to the distributions a demo
audience would look at.

What a later table needs of an earlier one (a customer's phone area code, the
line items of an invoice, the line items that sell a product) is kept in
compact arrays indexed by ID and in Counters keyed by small domains (invoice
days, states), never as a list of rows.
"""

from __future__ import annotations

import datetime as dt
import heapq
import os
import time
from array import array
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

from ..make.vocabulary import INVOICE_AGE_BANDS, STATUSES, geography
from ..plan import ADDRESS_WEIGHTS, EPOCH, LINE_WEIGHTS, GrownPlan
from ..store import Store, isolated, reading
from .targets import (
    AGE_BAND_LABELS,
    BEST_SELLER_FRACTION,
    QUIET_DAYS,
    Measures,
    Target,
    percentage,
    targets,
)

#: Unpaid invoices by days past due; "current" is not yet due.
AGING_BUCKETS: tuple[str, ...] = ("current", "1-30", "31-60", "61-90", "90+")
TOP = 10
SATURDAY, SUNDAY = 5, 6


class Stats(msgspec.Struct):
    """The distributions of a store and its realism targets."""

    path: str
    as_of: str
    rows: dict[str, int]
    targets: list[Target]
    customer_status: dict[str, int]
    customer_types: dict[str, int]
    addresses_per_customer: dict[int, int]
    lines_per_invoice: dict[int, int]
    invoice_status: dict[str, int]
    aging: dict[str, dict[str, float]]
    top_states: list[tuple[str, int]]
    top_products: list[tuple[int, str, int]]
    best_sellers_share: float
    invoice_age_bands: dict[str, float]
    weekend_share: float
    q4_share: float
    monthly_invoices: dict[str, int]
    credit_limit_range: tuple[float, float]
    seconds: float
    #: An advanced store's generated as_of ("" for a generated store): the
    #: targets are generate's, and the days since let the business drift.
    generated_as_of: str = ""


def stats(path: str | os.PathLike[str]) -> Stats:
    """Measure the store at `path`.

    >>> s = stats("shardgen.lmdb")  # doctest: +SKIP
    >>> [t.name for t in s.targets if not t.ok]  # doctest: +SKIP
    []
    """
    return isolated(Path(path), _stats_at, Path(path))


def _stats_at(path: Path) -> Stats:
    with Store.open(path) as store, reading(store.path):
        return stats_store(store)


def aging_bucket(days_past_due: int) -> str:
    """The aging bucket of an unpaid invoice (as_of − due_date days past due).

    >>> [aging_bucket(d) for d in (-5, 0, 1, 30, 31, 61, 91)]
    ['current', 'current', '1-30', '1-30', '31-60', '61-90', '90+']
    """
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "90+"


def _area_code(phone: str) -> int:
    """The area code of "(AAA) EEE-NNNN" as an integer, 0 when it is not that shape."""
    if len(phone) >= 5 and phone[0] == "(" and phone[4] == ")" and phone[1:4].isdigit():
        return int(phone[1:4])
    return 0


def stats_store(store: Store) -> Stats:
    """Measure an open store: one streaming pass over each table that has content to measure.

    Product categories and inventory are only counted, from LMDB's entry counts.
    """
    started = time.perf_counter()
    plan = store.scope()  # an advanced store: as of the day it was advanced to
    as_of = plan.as_of_day
    rows: dict[str, int] = {}
    n_customers = max(plan.customers, store.max_id("customers")) + 1
    customers, phone_area, status_of = _customer_figures(store, rows, n_customers)
    rows["product_categories"] = store.count("product_categories")
    addresses = _address_figures(store, rows, n_customers, phone_area)
    del phone_area
    invoices = _invoice_figures(store, rows, as_of, n_customers, status_of)
    del status_of
    n_invoices = max(plan.invoices, store.max_id("invoices")) + 1
    n_products = max(plan.products, store.max_id("products")) + 1
    lines_per_invoice, sold = _line_figures(store, rows, n_invoices, n_products)
    best = _best_sellers(store, rows, sold, n_products)
    del sold
    rows["inventory"] = store.count("inventory")
    dates = _date_figures(invoices.days, as_of)
    n_invoice_rows = rows["invoices"]
    order = (
        "customer_types", "product_categories", "customers", "customer_addresses",
        "products", "inventory", "invoices", "invoice_line_items",
    )  # fmt: skip
    return Stats(
        path=str(store.path),
        as_of=plan.as_of,
        generated_as_of=plan.generated_as_of if isinstance(plan, GrownPlan) else "",
        rows={table: rows[table] for table in order},
        targets=targets(
            _measures(rows, customers, addresses, invoices, lines_per_invoice, best, dates)
        ),
        customer_status={s: customers.status[s] for s in (*STATUSES, *sorted(customers.status))},
        customer_types=dict(customers.types.most_common()),
        addresses_per_customer={
            k: addresses.per_customer[k]
            for k in sorted({*range(1, len(ADDRESS_WEIGHTS) + 1), *addresses.per_customer})
        },
        lines_per_invoice={
            k: lines_per_invoice[k]
            for k in sorted({*range(1, len(LINE_WEIGHTS) + 1), *lines_per_invoice})
        },
        invoice_status={
            s: invoices.status[s] for s in ("pending", "paid", "overdue", *sorted(invoices.status))
        },
        aging={
            bucket: {
                "count": invoices.aging_count[bucket],
                "amount": invoices.aging_cents[bucket] / 100,
            }
            for bucket in AGING_BUCKETS
        },
        top_states=addresses.states[:TOP],
        top_products=best.top,
        best_sellers_share=round(best.share, 2),
        invoice_age_bands={
            label: round(percentage(count, n_invoice_rows), 2)
            for label, count in zip(AGE_BAND_LABELS, dates.age_bands, strict=True)
        },
        weekend_share=round(percentage(dates.weekend, n_invoice_rows), 2),
        q4_share=round(percentage(dates.q4, n_invoice_rows), 2),
        monthly_invoices=dates.monthly,
        credit_limit_range=customers.credit_range,
        seconds=round(time.perf_counter() - started, 3),
    )


def _counted(store: Store, table: str, rows: dict[str, int]) -> Iterator[Any]:
    """The records of `table`, in key order; once all are read, their number is rows[table]."""
    count = 0
    for record in store.scan(table):
        count += 1
        yield record
    rows[table] = count


class CustomerFigures(NamedTuple):
    """Customers by status and by type, and the range of their credit limits in dollars."""

    status: Counter[str]
    types: Counter[str]
    credit_range: tuple[float, float]


def _customer_figures(
    store: Store, rows: dict[str, int], n_customers: int
) -> tuple[CustomerFigures, array[int], array[int]]:
    """The customers' figures, then by customer ID: the phone's area code, and the
    status (1 inactive, 2 suspended, 0 otherwise). Reads customer types and customers."""
    type_name: dict[int, str] = {t.id: t.name for t in _counted(store, "customer_types", rows)}
    phone_area = array("H", bytes(2 * n_customers))
    status_of = array("b", bytes(n_customers))  # 1 inactive, 2 suspended
    status_count: Counter[str] = Counter()
    type_count: Counter[str] = Counter()
    credit_min = credit_max = None
    for c in _counted(store, "customers", rows):
        status_count[c.status] += 1
        type_count[type_name.get(c.customer_type_id, f"type {c.customer_type_id}")] += 1
        if credit_min is None or c.credit_limit < credit_min:
            credit_min = c.credit_limit
        if credit_max is None or c.credit_limit > credit_max:
            credit_max = c.credit_limit
        if 0 < c.id < n_customers:
            phone_area[c.id] = _area_code(c.phone)
            status_of[c.id] = {"inactive": 1, "suspended": 2}.get(c.status, 0)
    credit_range = ((credit_min or 0) / 100, (credit_max or 0) / 100)
    return CustomerFigures(status_count, type_count, credit_range), phone_area, status_of


class AddressFigures(NamedTuple):
    """Customers by number of addresses and by primary state (most first), and how
    many have a phone whose area code serves their primary ZIP."""

    per_customer: Counter[int]
    states: list[tuple[str, int]]
    phone_served: int


def _address_figures(
    store: Store, rows: dict[str, int], n_customers: int, phone_area: array[int]
) -> AddressFigures:
    """The addresses' figures, from one pass over customer addresses."""
    serves: dict[tuple[str, str], frozenset[int]] = {
        (state, place.zip_code): frozenset(int(code) for code in place.area_codes)
        for state, places in geography().items()
        for place in places
    }
    address_count = array("B", bytes(n_customers))
    primary_state: Counter[str] = Counter()
    phone_served = 0
    for a in _counted(store, "customer_addresses", rows):
        cid = a.customer_id
        if not 0 < cid < n_customers:
            continue
        address_count[cid] = min(address_count[cid] + 1, 255)
        if a.is_primary:
            primary_state[a.state] += 1
            if phone_area[cid] in serves.get((a.state, a.zip_code), ()):
                phone_served += 1
    del serves
    per_customer: Counter[int] = Counter(
        address_count[cid] for cid in range(1, n_customers) if address_count[cid]
    )
    states = sorted(primary_state.items(), key=lambda kv: (-kv[1], kv[0]))
    return AddressFigures(per_customer, states, phone_served)


class InvoiceFigures(NamedTuple):
    """Invoices by status and by day; unpaid ones by aging bucket (count and cents);
    suspended customers with an overdue invoice; inactive customers who bought lately."""

    status: Counter[str]
    days: Counter[int]
    aging_count: dict[str, int]
    aging_cents: dict[str, int]
    suspended_overdue: int
    inactive_recent: int


def _invoice_figures(
    store: Store, rows: dict[str, int], as_of: int, n_customers: int, status_of: array[int]
) -> InvoiceFigures:
    """The invoices' figures, from one pass over invoices."""
    invoice_status: Counter[str] = Counter()
    invoice_days: Counter[int] = Counter()
    aging_count = dict.fromkeys(AGING_BUCKETS, 0)
    aging_cents = dict.fromkeys(AGING_BUCKETS, 0)
    suspended_overdue: set[int] = set()
    inactive_recent: set[int] = set()
    for inv in _counted(store, "invoices", rows):
        invoice_status[inv.status] += 1
        cid = inv.customer_id
        if 0 < cid < n_customers:
            if status_of[cid] == 2 and inv.status == "overdue":
                suspended_overdue.add(cid)
            elif status_of[cid] == 1 and as_of - inv.invoice_date <= QUIET_DAYS:
                inactive_recent.add(cid)
        invoice_days[inv.invoice_date] += 1
        if inv.paid_date is None:
            bucket = aging_bucket(as_of - inv.due_date)
            aging_count[bucket] += 1
            aging_cents[bucket] += inv.total
    return InvoiceFigures(
        invoice_status,
        invoice_days,
        aging_count,
        aging_cents,
        len(suspended_overdue),
        len(inactive_recent),
    )


def _line_figures(
    store: Store, rows: dict[str, int], n_invoices: int, n_products: int
) -> tuple[Counter[int], array[int]]:
    """Invoices by number of line items, and by product ID the line items that sell
    it, from one pass over line items."""
    lines_of = array("B", bytes(n_invoices))
    sold = array("I", bytes(4 * n_products))
    for li in _counted(store, "invoice_line_items", rows):
        if 0 < li.invoice_id < n_invoices:
            lines_of[li.invoice_id] = min(lines_of[li.invoice_id] + 1, 255)
        if 0 < li.product_id < n_products:
            sold[li.product_id] += 1
    lines_per_invoice: Counter[int] = Counter(
        lines_of[iid] for iid in range(1, n_invoices) if lines_of[iid]
    )
    return lines_per_invoice, sold


class BestSellers(NamedTuple):
    """The TOP products by line items (id, name, line items), and the percentage of
    line items that the best-selling BEST_SELLER_FRACTION of products carry."""

    top: list[tuple[int, str, int]]
    share: float


def _best_sellers(
    store: Store, rows: dict[str, int], sold: array[int], n_products: int
) -> BestSellers:
    """The best sellers, naming them from one pass over products."""
    top_sold = dict(
        heapq.nsmallest(
            TOP,
            ((pid, sold[pid]) for pid in range(1, n_products) if sold[pid]),
            key=lambda pair: (-pair[1], pair[0]),
        )
    )
    product_name: dict[int, str] = {}
    for p in _counted(store, "products", rows):
        if p.id in top_sold:
            product_name[p.id] = p.name
    n_product_rows = rows["products"]
    best_k = max(1, round(n_product_rows * BEST_SELLER_FRACTION)) if n_product_rows else 0
    ranked = sorted(sold, reverse=True)  # ties do not change the sum of the top k
    share = percentage(sum(ranked[:best_k]), rows["invoice_line_items"])
    del ranked
    top = [(pid, product_name.get(pid, "?"), n) for pid, n in top_sold.items()]
    return BestSellers(top, share)


class DateFigures(NamedTuple):
    """Invoices by month ("YYYY-MM", in order), on weekends, in Q4, and by
    INVOICE_AGE_BANDS band."""

    monthly: dict[str, int]
    weekend: int
    q4: int
    age_bands: list[int]


def _date_figures(invoice_days: Counter[int], as_of: int) -> DateFigures:
    """The date figures, from the invoices by day."""
    monthly: Counter[str] = Counter()
    weekend = q4 = 0
    band_count = [0] * len(INVOICE_AGE_BANDS)
    for day, count in invoice_days.items():
        date = EPOCH + dt.timedelta(days=day)
        monthly[f"{date.year:04d}-{date.month:02d}"] += count
        if date.weekday() in (SATURDAY, SUNDAY):
            weekend += count
        if date.month >= 10:
            q4 += count
        age = as_of - day
        for i, (low, high, _share) in enumerate(INVOICE_AGE_BANDS):
            if low <= age <= high:
                band_count[i] += count
                break
    return DateFigures(dict(sorted(monthly.items())), weekend, q4, band_count)


def _measures(
    rows: dict[str, int],
    customers: CustomerFigures,
    addresses: AddressFigures,
    invoices: InvoiceFigures,
    lines_per_invoice: Counter[int],
    best: BestSellers,
    dates: DateFigures,
) -> Measures:
    """What the realism targets are judged on, from the figures of each table."""
    return Measures(
        customers=rows["customers"],
        invoices=rows["invoices"],
        customer_status=customers.status,
        addresses_per_customer=addresses.per_customer,
        lines_per_invoice=lines_per_invoice,
        age_bands=dates.age_bands,
        weekend_invoices=dates.weekend,
        suspended_with_overdue=invoices.suspended_overdue,
        inactive_who_bought=invoices.inactive_recent,
        best_sellers_share=best.share,
        states=addresses.states,
        aging=invoices.aging_count,
        phone_served=addresses.phone_served,
    )
