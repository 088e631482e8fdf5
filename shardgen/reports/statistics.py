"""Stats: one streaming pass per table, measuring the data against its realism targets.

DESIGN.md's "Realism" section promises shares (customer statuses, addresses
per customer, line items per invoice, invoice ages), skews (best sellers,
populous states, few weekend invoices) and content (every aging bucket, phone
area codes that serve the address). `stats` measures each of them and says
whether it holds, next to the distributions a demo audience would look at.

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from ..make.vocabulary import (
    INVOICE_AGE_BANDS,
    STATE_POPULATION,
    STATUS_SHARES,
    STATUSES,
    geography,
)
from ..plan import ADDRESS_WEIGHTS, EPOCH, LINE_WEIGHTS
from ..store import Store, isolated, reading

#: Unpaid invoices by days past due; "current" is not yet due.
AGING_BUCKETS: tuple[str, ...] = ("current", "1-30", "31-60", "61-90", "90+")
#: Percentage points a share may stray from its target at volume.
TOLERANCE_POINTS = 2.0
#: Below these counts a share holds when it is within one row of its target.
SMALL_CUSTOMERS = 100
SMALL_INVOICES = 100
SMALL_INVOICES_FOR_AGE = 500
#: Volumes from which the skew and content targets are required ("large").
LARGE_CUSTOMERS = 1_000
LARGE_INVOICES = 10_000
WEEKEND_MAX = 15.0
BEST_SELLER_FRACTION = 0.2
BEST_SELLER_MIN = 50.0
AREA_CODE_MIN = 99.0
LEADING_STATES = 4
TOP = 10
SATURDAY, SUNDAY = 5, 6
LARGE_NOTE = "(checked at large and up)"


#: Suspended customers have overdue invoices; inactive ones stopped buying.
SUSPENDED_OVERDUE_MIN = 99.0
QUIET_DAYS = 90


class Target(msgspec.Struct):
    """One realism target: what was measured, what was wanted, and whether it holds."""

    name: str
    actual: float
    target: str
    ok: bool


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


def _percent(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 0.0


def _share_target(
    name: str, count: int, total: int, share: float, small_below: int, unit: str
) -> Target:
    """A share within TOLERANCE_POINTS of `share` percent, or within one row when small."""
    actual = _percent(count, total)
    if total >= small_below:
        return Target(
            name,
            round(actual, 2),
            f"{share:.3g} ± {TOLERANCE_POINTS:g}",
            abs(actual - share) <= TOLERANCE_POINTS,
        )
    return Target(
        name,
        round(actual, 2),
        f"{share:.3g} ± 1 {unit} (below {small_below:,} {unit}s)",
        abs(count - total * share / 100) <= 1,
    )


def stats_store(store: Store) -> Stats:
    """Measure an open store: one streaming pass over each table that has content to measure.

    Product categories and inventory are only counted, from LMDB's entry counts.
    """
    started = time.perf_counter()
    plan = store.plan()
    as_of = plan.as_of_day
    rows: dict[str, int] = {}

    def scan(table: str) -> Any:
        count = 0
        for record in store.scan(table):
            count += 1
            yield record
        rows[table] = count

    # -- customer types and customers ---------------------------------------------
    type_name: dict[int, str] = {t.id: t.name for t in scan("customer_types")}
    rows["product_categories"] = store.count("product_categories")

    n_customers = max(plan.customers, store.max_id("customers")) + 1
    phone_area = array("H", bytes(2 * n_customers))
    status_of = array("b", bytes(n_customers))  # 1 inactive, 2 suspended
    status_count: Counter[str] = Counter()
    type_count: Counter[str] = Counter()
    credit_min = credit_max = None
    for c in scan("customers"):
        status_count[c.status] += 1
        type_count[type_name.get(c.customer_type_id, f"type {c.customer_type_id}")] += 1
        if credit_min is None or c.credit_limit < credit_min:
            credit_min = c.credit_limit
        if credit_max is None or c.credit_limit > credit_max:
            credit_max = c.credit_limit
        if 0 < c.id < n_customers:
            phone_area[c.id] = _area_code(c.phone)
            status_of[c.id] = {"inactive": 1, "suspended": 2}.get(c.status, 0)
    n_customer_rows = rows["customers"]

    # -- addresses: how many per customer, primary state, area code vs ZIP --------
    serves: dict[tuple[str, str], frozenset[int]] = {
        (state, place.zip_code): frozenset(int(code) for code in place.area_codes)
        for state, places in geography().items()
        for place in places
    }
    address_count = array("B", bytes(n_customers))
    primary_state: Counter[str] = Counter()
    phone_served = 0
    for a in scan("customer_addresses"):
        cid = a.customer_id
        if not 0 < cid < n_customers:
            continue
        address_count[cid] = min(address_count[cid] + 1, 255)
        if a.is_primary:
            primary_state[a.state] += 1
            if phone_area[cid] in serves.get((a.state, a.zip_code), ()):
                phone_served += 1
    del serves, phone_area
    addresses_per_customer: Counter[int] = Counter(
        address_count[cid] for cid in range(1, n_customers) if address_count[cid]
    )
    del address_count

    # -- invoices: statuses, aging, dates ---------------------------------------------
    n_invoices = max(plan.invoices, store.max_id("invoices")) + 1
    invoice_status: Counter[str] = Counter()
    invoice_days: Counter[int] = Counter()
    aging_count = dict.fromkeys(AGING_BUCKETS, 0)
    aging_cents = dict.fromkeys(AGING_BUCKETS, 0)
    suspended_overdue: set[int] = set()
    inactive_recent: set[int] = set()
    for inv in scan("invoices"):
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
    n_invoice_rows = rows["invoices"]

    # -- line items: per invoice, per product ---------------------------------------
    n_products = max(plan.products, store.max_id("products")) + 1
    lines_of = array("B", bytes(n_invoices))
    sold = array("I", bytes(4 * n_products))
    for li in scan("invoice_line_items"):
        if 0 < li.invoice_id < n_invoices:
            lines_of[li.invoice_id] = min(lines_of[li.invoice_id] + 1, 255)
        if 0 < li.product_id < n_products:
            sold[li.product_id] += 1
    lines_per_invoice: Counter[int] = Counter(
        lines_of[iid] for iid in range(1, n_invoices) if lines_of[iid]
    )
    del lines_of
    n_lines = rows["invoice_line_items"]

    # -- products: names of the best sellers ---------------------------------------
    top_sold = dict(
        heapq.nsmallest(
            TOP,
            ((pid, sold[pid]) for pid in range(1, n_products) if sold[pid]),
            key=lambda pair: (-pair[1], pair[0]),
        )
    )
    product_name: dict[int, str] = {}
    for p in scan("products"):
        if p.id in top_sold:
            product_name[p.id] = p.name
    rows["inventory"] = store.count("inventory")
    n_product_rows = rows["products"]
    best_k = max(1, round(n_product_rows * BEST_SELLER_FRACTION)) if n_product_rows else 0
    ranked = sorted(sold, reverse=True)  # ties do not change the sum of the top k
    best_sellers_share = _percent(sum(ranked[:best_k]), n_lines)
    del ranked

    # -- derived distributions ---------------------------------------------------
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
    band_label = [f"{low}-{high}" for low, high, _share in INVOICE_AGE_BANDS]
    by_state = sorted(primary_state.items(), key=lambda kv: (-kv[1], kv[0]))

    # -- targets ----------------------------------------------------------------------
    targets: list[Target] = []
    for status, share in zip(STATUSES, STATUS_SHARES, strict=True):
        targets.append(
            _share_target(
                f"customers {status} %", status_count[status], n_customer_rows, share,
                SMALL_CUSTOMERS, "customer",
            )
        )  # fmt: skip
    for k, weight in enumerate(ADDRESS_WEIGHTS, start=1):
        targets.append(
            _share_target(
                f"customers with {k} address{'es' if k > 1 else ''} %",
                addresses_per_customer[k], n_customer_rows,
                100 * weight / sum(ADDRESS_WEIGHTS), SMALL_CUSTOMERS, "customer",
            )
        )  # fmt: skip
    for k, weight in enumerate(LINE_WEIGHTS, start=1):
        targets.append(
            _share_target(
                f"invoices with {k} line item{'s' if k > 1 else ''} %",
                lines_per_invoice[k], n_invoice_rows,
                100 * weight / sum(LINE_WEIGHTS), SMALL_INVOICES, "invoice",
            )
        )  # fmt: skip
    for label, count, (_low, _high, share) in zip(
        band_label, band_count, INVOICE_AGE_BANDS, strict=True
    ):
        targets.append(
            _share_target(
                f"invoices dated {label} days before as_of %", count, n_invoice_rows, share,
                SMALL_INVOICES_FOR_AGE, "invoice",
            )
        )  # fmt: skip
    weekend_share = _percent(weekend, n_invoice_rows)
    targets.append(
        Target("weekend invoices %", round(weekend_share, 2), f"< {WEEKEND_MAX:g}",
               weekend_share < WEEKEND_MAX)
    )  # fmt: skip
    suspended = status_count["suspended"]
    overdue_share = _percent(len(suspended_overdue), suspended) if suspended else 100.0
    targets.append(
        Target("suspended customers with an overdue invoice %", round(overdue_share, 2),
               f">= {SUSPENDED_OVERDUE_MIN:g}", overdue_share >= SUSPENDED_OVERDUE_MIN)
    )  # fmt: skip
    targets.append(
        Target(f"inactive customers who bought in the last {QUIET_DAYS} days",
               len(inactive_recent), "= 0", not inactive_recent)
    )  # fmt: skip
    large_invoices = n_invoice_rows >= LARGE_INVOICES
    large_customers = n_customer_rows >= LARGE_CUSTOMERS
    best_name = f"line items of the best-selling {BEST_SELLER_FRACTION * 100:g} % of products %"
    best_ok = best_sellers_share >= BEST_SELLER_MIN
    targets.append(
        Target(
            best_name,
            round(best_sellers_share, 2),
            f">= {BEST_SELLER_MIN:g}" + ("" if large_invoices else f" {LARGE_NOTE}"),
            best_ok or not large_invoices,
        )
    )
    populous = sorted(STATE_POPULATION, key=lambda s: -STATE_POPULATION[s])[:LEADING_STATES]
    leaders = {state for state, _count in by_state[:LEADING_STATES]}
    leading = len(leaders & set(populous))
    targets.append(
        Target(
            f"{', '.join(populous)} among the top {LEADING_STATES} states by customers",
            float(leading),
            f"= {LEADING_STATES}" + ("" if large_customers else f" {LARGE_NOTE}"),
            leading == LEADING_STATES or not large_customers,
        )
    )
    filled = sum(1 for bucket in AGING_BUCKETS if aging_count[bucket])
    targets.append(
        Target(
            "aging buckets with unpaid invoices",
            float(filled),
            f"= {len(AGING_BUCKETS)}" + ("" if large_invoices else f" {LARGE_NOTE}"),
            filled == len(AGING_BUCKETS) or not large_invoices,
        )
    )
    served = _percent(phone_served, n_customer_rows)
    targets.append(
        Target("phone area code serves the primary ZIP %", round(served, 2),
               f">= {AREA_CODE_MIN:g}", served >= AREA_CODE_MIN)
    )  # fmt: skip

    order = (
        "customer_types", "product_categories", "customers", "customer_addresses",
        "products", "inventory", "invoices", "invoice_line_items",
    )  # fmt: skip
    return Stats(
        path=str(store.path),
        as_of=plan.as_of,
        rows={table: rows[table] for table in order},
        targets=targets,
        customer_status={s: status_count[s] for s in (*STATUSES, *sorted(status_count))},
        customer_types=dict(type_count.most_common()),
        addresses_per_customer={
            k: addresses_per_customer[k]
            for k in sorted({*range(1, len(ADDRESS_WEIGHTS) + 1), *addresses_per_customer})
        },
        lines_per_invoice={
            k: lines_per_invoice[k]
            for k in sorted({*range(1, len(LINE_WEIGHTS) + 1), *lines_per_invoice})
        },
        invoice_status={
            s: invoice_status[s] for s in ("pending", "paid", "overdue", *sorted(invoice_status))
        },
        aging={
            bucket: {"count": aging_count[bucket], "amount": aging_cents[bucket] / 100}
            for bucket in AGING_BUCKETS
        },
        top_states=by_state[:TOP],
        top_products=[(pid, product_name.get(pid, "?"), n) for pid, n in top_sold.items()],
        best_sellers_share=round(best_sellers_share, 2),
        invoice_age_bands={
            label: round(_percent(count, n_invoice_rows), 2)
            for label, count in zip(band_label, band_count, strict=True)
        },
        weekend_share=round(weekend_share, 2),
        q4_share=round(_percent(q4, n_invoice_rows), 2),
        monthly_invoices=dict(sorted(monthly.items())),
        credit_limit_range=((credit_min or 0) / 100, (credit_max or 0) / 100),
        seconds=round(time.perf_counter() - started, 3),
    )


# -- rendering -------------------------------------------------------------------


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
    rows = [(str(key), f"{n:,}", f"{_percent(n, total):.1f}") for key, n in counts.items()]
    return aligned((label, "count", "%"), rows, {1, 2})


def _actual(target: Target) -> str:
    return f"{target.actual:.1f}" if target.name.endswith("%") else f"{target.actual:g}"


def render(s: Stats) -> str:
    """The stats as text for a terminal: the targets first, then the distributions."""
    missed = sum(1 for t in s.targets if not t.ok)
    verdict = "all targets met" if not missed else f"{missed} of {len(s.targets)} targets MISSED"
    out = [f"{s.path} (as of {s.as_of}): {verdict}", "", "Targets"]
    out += aligned(
        ("target", "actual", "wanted", ""),
        [(t.name, _actual(t), t.target, "ok" if t.ok else "MISS") for t in s.targets],
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
