"""Verify: one streaming pass over a store, checking every rule, computing the digest.

Tables are read in dependency order; what a later table needs of an earlier
one (a customer's creation day, an invoice's subtotal) is kept in compact
arrays indexed by ID, so memory grows by a few bytes per row, never by the
rows themselves. Findings are a report, not exceptions.
"""

from __future__ import annotations

import hashlib
import re
import time
from array import array
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from .catalog_vocab import CATEGORIES
from .plan import Plan
from .schema import BATCH_DECODERS, DECODERS, TABLES, array_header
from .store import Store
from .vocab import STATE_TAX_BP, city_of

DAY = 86_400
CREDIT_LIMIT_MAX = 100_000 * 100
EMAIL = re.compile(r"^[a-z0-9._+-]+@example\.(com|net|org)$")
ZIP = re.compile(r"^\d{5}$")
CUSTOMER_STATUSES = frozenset(("active", "inactive", "suspended"))
INVOICE_STATUSES = frozenset(("pending", "paid", "overdue"))
#: How many violations of each rule are listed; all are counted.
LISTED_PER_RULE = 20


class Violation(msgspec.Struct, frozen=True):
    table: str
    id: int
    rule: str
    detail: str


class Report(msgspec.Struct):
    """The outcome of verify: data, not exceptions."""

    path: str
    ok: bool
    digest: str
    rows: dict[str, int]
    expected_rows: dict[str, int]
    violation_count: int
    violations_by_rule: dict[str, int]
    violations: list[Violation]
    table_digests: dict[str, str]
    seconds: float


class _Findings:
    def __init__(self) -> None:
        self.by_rule: Counter[str] = Counter()
        self.listed: list[Violation] = []

    def add(self, table: str, row_id: int, rule: str, detail: str = "") -> None:
        self.by_rule[rule] += 1
        if self.by_rule[rule] <= LISTED_PER_RULE:
            self.listed.append(Violation(table, row_id, rule, detail))


class _Spans:
    """First and last child ID per parent, and how many children it has.

    A parent's children have consecutive IDs exactly when last - first + 1
    equals the count.
    """

    def __init__(self, parents: int) -> None:
        self.first = array("q", bytes(8 * parents))
        self.last = array("q", bytes(8 * parents))
        self.count = array("i", bytes(4 * parents))
        self.parents = 0

    def see(self, parent: int, child: int) -> None:
        if not self.count[parent]:
            self.first[parent] = child
            self.parents += 1
        self.last[parent] = child
        self.count[parent] += 1

    def matches(self, parent: int, first: int, count: int) -> bool:
        if not 0 < parent < len(self.count) or not self.count[parent]:
            return False
        return (
            self.first[parent] == first
            and self.count[parent] == count
            and self.last[parent] - first + 1 == count
        )


def verify(path: str | Path) -> Report:
    """Verify the store at `path` and return a report.

    >>> report = verify("shardgen.lmdb")  # doctest: +SKIP
    >>> report.ok, report.digest  # doctest: +SKIP
    """
    with Store.open(path) as store:
        return verify_store(store)


def verify_store(store: Store, check: Callable[[], None] | None = None) -> Report:
    """Verify an open store. `check` is called every batch of rows; it may raise
    to stop the pass (generate's memory limit does)."""
    started = time.perf_counter()
    meta = store.meta()
    plan = msgspec.convert(meta.plan, Plan)
    as_of = plan.as_of_day
    as_of_end = (as_of + 1) * DAY  # timestamps must fall before the next day
    found = _Findings()
    add = found.add
    rows: dict[str, int] = {}
    table_digests: dict[str, str] = {}

    def scan(table: str) -> Any:
        """Records of a table in key order, decoded a batch at a time."""
        digest = hashlib.blake2b(digest_size=16)
        decode_batch = BATCH_DECODERS[table].decode
        decode_one = DECODERS[table].decode
        count = 0
        expected_id = 1
        for keys, values in store.raw_batches(table):
            if check is not None:
                check()
            digest.update(
                b"".join([part for pair in zip(keys, values, strict=True) for part in pair])
            )
            try:
                records = decode_batch(array_header(len(values)) + b"".join(values))
            except msgspec.DecodeError:
                records = []
                for k, v in zip(keys, values, strict=True):
                    try:
                        records.append(decode_one(v))
                    except msgspec.DecodeError as exc:
                        add(table, int.from_bytes(k, "big"), "record decodes", str(exc))
            else:
                # Keys are sorted and unique: when the first and last keys equal the
                # first and last ids and the ids run consecutively, every key
                # equals its record's id.
                first, last = int.from_bytes(keys[0], "big"), int.from_bytes(keys[-1], "big")
                if first != records[0].id or last != records[-1].id:
                    add(table, first, "ids are 1..n in key order", "key and id differ")
            for record in records:
                count += 1
                if record.id != expected_id:
                    add(table, record.id, "ids are 1..n in key order", f"expected {expected_id}")
                    expected_id = record.id
                expected_id += 1
                yield record
        rows[table] = count
        table_digests[table] = digest.hexdigest()

    # -- foundation ---------------------------------------------------------
    type_discount: dict[int, int] = {}
    type_terms: dict[int, int] = {}
    names: set[str] = set()
    for t in scan("customer_types"):
        if t.name in names:
            add("customer_types", t.id, "name is unique", t.name)
        names.add(t.name)
        if not 0 <= t.discount_percentage <= 50:
            add("customer_types", t.id, "discount_percentage in 0-50")
        if not 1 <= t.priority_level <= 5:
            add("customer_types", t.id, "priority_level in 1-5")
        if t.created_at >= as_of_end:
            add("customer_types", t.id, "nothing after as_of")
        type_discount[t.id] = t.discount_percentage
        type_terms[t.id] = t.payment_terms_days

    margin_of = {c.name: (c.markup_min, c.markup_max) for c in CATEGORIES}
    category_range: dict[int, tuple[int, int]] = {}
    category_prefix: dict[int, str] = {}
    names = set()
    prefixes: set[str] = set()
    for c in scan("product_categories"):
        if c.name in names or c.sku_prefix in prefixes:
            add("product_categories", c.id, "name and sku_prefix are unique")
        names.add(c.name)
        prefixes.add(c.sku_prefix)
        if c.name not in margin_of:
            add("product_categories", c.id, "category is known", c.name)
        category_range[c.id] = margin_of.get(c.name, (0, 10**9))
        category_prefix[c.id] = c.sku_prefix
        if c.created_at >= as_of_end:
            add("product_categories", c.id, "nothing after as_of")
    for required in ("Electronics", "Office Supplies", "Software"):
        if required not in names:
            add("product_categories", 0, "required categories present", required)

    # -- customers and addresses -------------------------------------------------
    n_customers = plan.customers + 1
    customer_day = array("i", bytes(4 * n_customers))
    customer_type = array("b", bytes(n_customers))
    credit_limit = array("q", bytes(8 * n_customers))
    unpaid = array("q", bytes(8 * n_customers))
    address_count = array("b", bytes(n_customers))
    primary_count = array("b", bytes(n_customers))
    emails: set[str] = set()
    last_id = 0
    for c in scan("customers"):
        cid = c.id
        last_id = cid
        if cid >= n_customers:
            add("customers", cid, "id within the plan's count")
            continue
        if c.customer_type_id not in type_discount:
            add("customers", cid, "customer_type_id → customer_types", str(c.customer_type_id))
        if c.email in emails:
            add("customers", cid, "email is unique", c.email)
        emails.add(c.email)
        if not EMAIL.match(c.email):
            add("customers", cid, "email on a reserved domain", c.email)
        if c.status not in CUSTOMER_STATUSES:
            add("customers", cid, "status is active, inactive or suspended", c.status)
        if not 0 <= c.credit_limit <= CREDIT_LIMIT_MAX:
            add("customers", cid, "credit_limit in 0-100,000")
        if c.created_at >= as_of_end or c.updated_at >= as_of_end:
            add("customers", cid, "nothing after as_of")
        if c.updated_at < c.created_at:
            add("customers", cid, "updated_at >= created_at")
        customer_day[cid] = c.created_at // DAY
        customer_type[cid] = c.customer_type_id if c.customer_type_id < 128 else 0
        credit_limit[cid] = c.credit_limit
    del emails, last_id

    address_span = _Spans(n_customers)
    invoice_span = _Spans(n_customers)
    places = city_of()
    n_addresses = plan.addresses + 1
    address_owner = array("i", bytes(4 * n_addresses))
    address_day = array("i", bytes(4 * n_addresses))
    address_state: list[str] = [""] * n_addresses
    address_billing = array("b", bytes(n_addresses))
    for a in scan("customer_addresses"):
        aid, cid = a.id, a.customer_id
        if aid >= n_addresses:
            add("customer_addresses", aid, "id within the plan's count")
            continue
        if not 0 < cid < n_customers or customer_day[cid] == 0:
            add("customer_addresses", aid, "customer_id → customers", str(cid))
            continue
        address_owner[aid] = cid
        address_day[aid] = a.created_at // DAY
        address_state[aid] = a.state
        address_billing[aid] = a.address_type == "billing"
        address_count[cid] = min(address_count[cid] + 1, 100)
        address_span.see(cid, aid)
        if a.is_primary:
            primary_count[cid] = min(primary_count[cid] + 1, 100)
            if a.address_type != "billing":
                add("customer_addresses", aid, "the primary address is a billing address")
        if a.address_type not in ("billing", "shipping"):
            add("customer_addresses", aid, "address_type is billing or shipping")
        if a.created_at // DAY < customer_day[cid]:
            add("customer_addresses", aid, "address created after its customer")
        if a.created_at >= as_of_end:
            add("customer_addresses", aid, "nothing after as_of")
        if a.country != "US" or a.state not in STATE_TAX_BP:
            add("customer_addresses", aid, "a US state or DC", a.state)
        if not ZIP.match(a.zip_code):
            add("customer_addresses", aid, "zip_code is 5 digits", a.zip_code)
        elif places.get((a.zip_code, a.state)) != a.city:
            add(
                "customer_addresses",
                aid,
                "(city, state, zip) is a real street-address ZIP",
                f"{a.city}, {a.state} {a.zip_code}",
            )
    for cid in range(1, n_customers):
        if customer_day[cid] == 0:
            continue
        if not 1 <= address_count[cid] <= 3:
            add("customers", cid, "1-3 addresses", str(address_count[cid]))
        if primary_count[cid] != 1:
            add("customers", cid, "exactly one primary address", str(primary_count[cid]))

    # -- products and inventory --------------------------------------------------
    n_products = plan.products + 1
    product_day = array("i", bytes(4 * n_products))
    inventory_rows = array("b", bytes(n_products))
    skus: set[str] = set()
    for p in scan("products"):
        pid = p.id
        if pid >= n_products:
            add("products", pid, "id within the plan's count")
            continue
        if p.product_category_id not in category_range:
            add("products", pid, "product_category_id → product_categories")
            continue
        if p.sku in skus:
            add("products", pid, "sku is unique", p.sku)
        skus.add(p.sku)
        if not p.sku.startswith(category_prefix[p.product_category_id]):
            add("products", pid, "sku starts with the category prefix", p.sku)
        low, high = category_range[p.product_category_id]
        if not p.price > p.cost > 0:
            add("products", pid, "price > cost > 0")
        elif not p.cost * (100 + low) <= p.price * 100 <= p.cost * (100 + high):
            add("products", pid, "margin within the category's range")
        if p.created_at >= as_of_end or p.updated_at >= as_of_end:
            add("products", pid, "nothing after as_of")
        if p.updated_at < p.created_at:
            add("products", pid, "updated_at >= created_at")
        if p.weight < 0:
            add("products", pid, "weight >= 0")
        product_day[pid] = p.created_at // DAY or 1
    del skus

    for i in scan("inventory"):
        pid = i.product_id
        if not 0 < pid < n_products or product_day[pid] == 0:
            add("inventory", i.id, "product_id → products", str(pid))
            continue
        inventory_rows[pid] = min(inventory_rows[pid] + 1, 100)
        if not 0 <= i.reserved_quantity <= i.quantity_on_hand:
            add("inventory", i.id, "0 <= reserved_quantity <= quantity_on_hand")
        if not product_day[pid] <= i.last_received_date <= as_of:
            add("inventory", i.id, "last_received_date between product creation and as_of")
        if i.updated_at >= as_of_end:
            add("inventory", i.id, "nothing after as_of")
        if i.reorder_point < 0 or i.reorder_quantity < 0 or i.last_received_quantity < 0:
            add("inventory", i.id, "quantities >= 0")
    for pid in range(1, n_products):
        if product_day[pid] and inventory_rows[pid] != 1:
            add("products", pid, "exactly one inventory row", str(inventory_rows[pid]))

    # -- invoices and line items -------------------------------------------------
    n_invoices = plan.invoices + 1
    line_span = _Spans(n_invoices)
    invoice_day = array("i", bytes(4 * n_invoices))
    invoice_subtotal = array("q", bytes(8 * n_invoices))
    invoice_discount = array("b", bytes(n_invoices))
    line_sum = array("q", bytes(8 * n_invoices))
    line_mask = array("B", bytes(n_invoices))
    numbers: set[str] = set()
    state_rate: dict[str, int] = {}
    for inv in scan("invoices"):
        iid, cid = inv.id, inv.customer_id
        if iid >= n_invoices:
            add("invoices", iid, "id within the plan's count")
            continue
        if not 0 < cid < n_customers or customer_day[cid] == 0:
            add("invoices", iid, "customer_id → customers", str(cid))
            continue
        day = inv.invoice_date
        invoice_day[iid] = day
        invoice_span.see(cid, iid)
        invoice_subtotal[iid] = inv.subtotal
        kind = customer_type[cid]
        invoice_discount[iid] = type_discount.get(kind, -1)
        if inv.invoice_number in numbers:
            add("invoices", iid, "invoice_number is unique", inv.invoice_number)
        numbers.add(inv.invoice_number)
        aid = inv.billing_address_id
        if not 0 < aid < n_addresses or address_owner[aid] == 0:
            add("invoices", iid, "billing_address_id → customer_addresses", str(aid))
        elif address_owner[aid] != cid:
            add("invoices", iid, "billing address belongs to the invoice's customer")
        else:
            if address_day[aid] > day:
                add("invoices", iid, "billing address existed on the invoice date")
            if not address_billing[aid]:
                add("invoices", iid, "billing address is a billing address")
            state = address_state[aid]
            expected = STATE_TAX_BP.get(state, -1)
            if inv.tax_rate != expected:
                add("invoices", iid, "tax rate is the billing state's", f"{state} {inv.tax_rate}")
            if state_rate.setdefault(state, inv.tax_rate) != inv.tax_rate:
                add("invoices", iid, "one tax rate per state", state)
        if customer_day[cid] > day:
            add("invoices", iid, "customer created on or before the invoice date")
        if day > as_of or inv.created_at >= as_of_end:
            add("invoices", iid, "nothing after as_of")
        terms = type_terms.get(kind, -1)
        if inv.due_date != day + terms or inv.payment_terms != f"Net {terms}":
            add("invoices", iid, "due_date = invoice_date + payment terms")
        paid = inv.paid_date
        if paid is not None:
            if inv.status != "paid":
                add("invoices", iid, "paid ⇔ paid_date is set")
            if not day <= paid <= as_of:
                add("invoices", iid, "invoice_date <= paid_date <= as_of")
        elif inv.status == "paid":
            add("invoices", iid, "paid ⇔ paid_date is set")
        elif inv.status not in INVOICE_STATUSES:
            add("invoices", iid, "status is pending, paid or overdue", inv.status)
        elif (inv.status == "overdue") != (inv.due_date < as_of):
            add("invoices", iid, "overdue ⇔ unpaid and due_date < as_of")
        if paid is None:
            unpaid[cid] += inv.total
        if inv.tax_amount != (inv.subtotal * inv.tax_rate + 5_000) // 10_000:
            add("invoices", iid, "tax_amount = round(subtotal × tax_rate / 100)")
        if inv.total != inv.subtotal + inv.tax_amount:
            add("invoices", iid, "total = subtotal + tax_amount")
    del numbers

    # The hottest loop (2 rows in 3 are line items): spans updated inline.
    first_line, last_line, line_count = line_span.first, line_span.last, line_span.count
    for li in scan("invoice_line_items"):
        iid, pid = li.invoice_id, li.product_id
        if not 0 < iid < n_invoices or invoice_day[iid] == 0:
            add("invoice_line_items", li.id, "invoice_id → invoices", str(iid))
            continue
        if not line_count[iid]:
            first_line[iid] = li.id
            line_span.parents += 1
        last_line[iid] = li.id
        line_count[iid] += 1
        if not 0 < pid < n_products or product_day[pid] == 0:
            add("invoice_line_items", li.id, "product_id → products", str(pid))
        elif product_day[pid] > invoice_day[iid]:
            add("invoice_line_items", li.id, "product created on or before the invoice date")
        number = li.line_number
        bit = 1 << number if 1 <= number <= 7 else 0
        if not bit or line_mask[iid] & bit:
            add("invoice_line_items", li.id, "(invoice_id, line_number) is unique and 1..n")
        else:
            line_mask[iid] |= bit
        if li.quantity < 1:
            add("invoice_line_items", li.id, "quantity >= 1")
        discount = li.discount_percentage
        if not 0 <= discount <= 100:
            add("invoice_line_items", li.id, "discount_percentage in 0-100")
        elif discount != invoice_discount[iid]:
            add("invoice_line_items", li.id, "discount is the customer type's")
        if li.line_total != (li.quantity * li.unit_price * (100 - discount) + 50) // 100:
            add("invoice_line_items", li.id, "line_total = round(qty × price × (100 − disc) / 100)")
        line_sum[iid] += li.line_total
    for iid in range(1, n_invoices):
        if invoice_day[iid] == 0:
            continue
        count = line_count[iid]
        if not 1 <= count <= 4 or line_mask[iid] != (1 << (count + 1)) - 2:
            add("invoices", iid, "1-4 line items numbered 1..n", str(count))
        if line_sum[iid] != invoice_subtotal[iid]:
            add("invoices", iid, "subtotal = Σ line_total")
    for cid in range(1, n_customers):
        if customer_day[cid] and unpaid[cid] > credit_limit[cid]:
            add("customers", cid, "unpaid invoices total <= credit_limit")

    # Links (parent → first child, count) must describe the children found,
    # or `children()` would return wrong rows.
    spans = {1: address_span, 2: invoice_span, 3: line_span}
    linked = Counter[int]()
    for relation, parent, first, count in store.links():
        span = spans.get(relation)
        linked[relation] += 1
        if span is None or not span.matches(parent, first, count):
            add("links", parent, "links describe each parent's children", f"relation {relation}")
    for relation, span in spans.items():
        if linked[relation] != span.parents:
            add("links", 0, "links describe each parent's children", f"relation {relation} count")

    expected_rows = plan.rows()
    for table, count in expected_rows.items():
        if rows.get(table) != count:
            add(table, 0, "row count matches the plan", f"{rows.get(table)} != {count}")
    overall = hashlib.blake2b(digest_size=16)
    for table in TABLES:
        overall.update(table.encode())
        overall.update(bytes.fromhex(table_digests[table]))
    total = sum(found.by_rule.values())
    return Report(
        path=str(store.path),
        ok=total == 0,
        digest=overall.hexdigest(),
        rows=rows,
        expected_rows=expected_rows,
        violation_count=total,
        violations_by_rule=dict(found.by_rule),
        violations=found.listed,
        table_digests=table_digests,
        seconds=round(time.perf_counter() - started, 3),
    )
