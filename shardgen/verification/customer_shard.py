"""A customer shard's rules: its customers, their addresses, invoices and
line items, checked a table at a time on numpy arrays, and their links."""

from __future__ import annotations

import contextlib
import functools
import re
from itertools import compress, repeat
from typing import Any, NamedTuple

import msgspec
import numpy as np
from numpy.typing import NDArray

from ..advance.ledger import QUIET_DAYS
from ..make.vocabulary import STATE_TAX_BP, city_of
from ..plan import CustomerShard, GrownPlan, Plan
from ..schema import ADDRESSES, DECODERS, INVOICES, LINE_ITEMS
from .columns import DAY, NULL, Ints, flags, int_column, rounded_product
from .later import later_invoices
from .links import Spans, verify_links
from .reader import ShardReader

CREDIT_LIMIT_MAX = 100_000 * 100
EMAIL = re.compile(r"^[a-z0-9._+-]+@example\.(com|net|org)$")
ZIP = re.compile(r"^\d{5}$")
CUSTOMER_STATUSES = frozenset(("active", "inactive", "suspended"))
#: Customer type IDs verify keeps per-type arrays for; others are unknown types.
TYPE_IDS = 128
PENDING, PAID, OVERDUE, UNKNOWN = range(4)
#: Customer statuses as verify codes them (UNKNOWN for any other).
CUSTOMER_STATUS_CODES = {"active": 0, "inactive": 1, "suspended": 2}
INACTIVE, SUSPENDED = 1, 2
INVOICE_STATUS_CODES = {"pending": PENDING, "paid": PAID, "overdue": OVERDUE}


class _Kinds(NamedTuple):
    """The customer types as stored, as arrays indexed by type ID (below TYPE_IDS)."""

    ids: Ints  # every type ID stored
    discount: Ints  # -1 for an unknown type
    terms: Ints  # payment terms in days; -1 for an unknown type
    terms_text: NDArray[np.object_]  # "Net 30"; None for an unknown type


def _customer_types(reader: ShardReader) -> _Kinds:
    decode = DECODERS["customer_types"].decode
    discount = np.full(TYPE_IDS, -1, np.int64)
    terms = np.full(TYPE_IDS, -1, np.int64)
    terms_text = np.full(TYPE_IDS, None, object)
    ids = set()
    for _, values in reader.pairs("customer_types", b"", b"\xff" * 9):
        for value in values:
            with contextlib.suppress(msgspec.DecodeError):
                t = decode(value)
                ids.add(t.id)
                if 0 <= t.id < TYPE_IDS:
                    discount[t.id] = t.discount_percentage
                    terms[t.id] = t.payment_terms_days
                    terms_text[t.id] = f"Net {t.payment_terms_days}"
    return _Kinds(np.array(sorted(ids), np.int64), discount, terms, terms_text)


def verify_customers(
    reader: ShardReader, plan: Plan, shard: CustomerShard, product_day: NDArray[np.int32]
) -> None:
    """A customer shard: customers, addresses, invoices, line items and their links."""
    CustomerChecks(reader, plan, shard, product_day).check()


class CustomerChecks:
    """The checks of one customer shard, a table at a time.

    Arrays are indexed by position in the shard (ID - first ID of the range):
    what a table's checks learn (a customer's creation day, type and credit
    limit; an address's owner and state; an invoice's day, subtotal and
    discount) the next table's checks use. Every table is checked a batch at
    a time: integer fields as arrays, string fields row by row.
    """

    def __init__(
        self, reader: ShardReader, plan: Plan, shard: CustomerShard, product_day: NDArray[np.int32]
    ) -> None:
        self.reader = reader
        self.shard = shard
        self.product_day = product_day
        self.as_of = plan.as_of_day
        self.as_of_end = (self.as_of + 1) * DAY
        self.kinds = _customer_types(reader)
        c0, nc = self.c0, self.nc = shard.customer_first, shard.customers
        self.customer_ids = c0 + np.arange(nc, dtype=np.int64)
        self.customer_day = np.zeros(nc, np.int64)
        self.customer_type = np.zeros(nc, np.int64)
        self.credit_limit = np.zeros(nc, np.int64)
        na = self.na = shard.addresses
        self.a0 = shard.address_first
        self.address_owner = np.zeros(na, np.int64)  # the customer's position + 1; 0: none
        self.address_day = np.zeros(na, np.int64)
        self.address_state = np.zeros(na, np.int64)  # a code: its index in `state_names`
        self.address_billing = np.zeros(na, np.bool_)
        self.address_count = np.zeros(nc, np.int64)
        self.primary_count = np.zeros(nc, np.int64)
        self.address_span = Spans(nc)
        self.state_code: dict[str, int] = {}
        self.state_names: list[str] = []
        self.state_tax = np.zeros(0, np.int64)
        self.customer_status = np.zeros(nc, np.int64)
        self.customer_updated = np.zeros(nc, np.int64)  # its updated_at's day
        self.overdue = np.zeros(nc, np.int64)
        self.last_invoice = np.full(nc, -1, np.int64)
        # An advanced store: the invoices its days issued to these customers
        # (`later`) are checked here too, after the shard's own, at positions
        # from ni on. The grown shard's own ranges are only read and digested.
        self.grown = plan if isinstance(plan, GrownPlan) else None
        self.grown_shard = self.grown is not None and self.grown.is_grown(shard)
        self.later = reader.view.later(c0, nc) if self.grown is not None else []
        i0, ni = self.i0, self.ni = shard.invoice_first, 0 if self.grown_shard else shard.invoices
        later_ids = np.array([i for _, i in self.later], np.int64)
        self.invoice_ids = np.concatenate([i0 + np.arange(ni, dtype=np.int64), later_ids])
        every = len(self.invoice_ids)
        self.invoice_span = Spans(nc)
        self.invoice_day = np.zeros(every, np.int64)
        self.invoice_subtotal = np.zeros(every, np.int64)
        self.invoice_discount = np.full(every, -1, np.int64)
        self.unpaid = np.zeros(nc, np.int64)
        self.line_span = Spans(every)
        self.line_sum = np.zeros(every, np.int64)
        self.line_mask = np.zeros(every, np.int64)  # bit n set: line number n seen

    def check(self) -> None:
        reader, shard = self.reader, self.shard
        for batch, ids in reader.batches("customers", self.c0, self.nc):
            self.customers(batch, ids)
        for batch, ids in reader.batches("customer_addresses", self.a0, self.na):
            self.addresses(batch, ids)
        self.address_counts()
        if self.grown_shard:
            # The days' invoices and line items: counted and digested here,
            # checked with their customers' shards.
            for table, first, count in (
                ("invoices", shard.invoice_first, shard.invoices),
                ("invoice_line_items", shard.line_first, shard.lines),
            ):
                for _ in reader.batches(table, first, count):
                    pass
        else:
            for batch, ids in reader.batches("invoices", self.i0, self.ni):
                self.invoices(batch, ids)
            for batch, ids in reader.batches("invoice_line_items", shard.line_first, shard.lines):
                self.line_items(batch, ids)
        if self.later:
            later_invoices(self)
        self.invoice_totals()
        verify_links(
            reader,
            (
                (ADDRESSES, self.address_span, self.c0, self.nc),
                (INVOICES, self.invoice_span, self.c0, self.nc),
                (LINE_ITEMS, self.line_span.head(self.ni), self.i0, self.ni),
            ),
        )

    def customers(self, batch: list[Any], ids: Ints) -> None:
        found, kinds, as_of_end = self.reader.found, self.kinds, self.as_of_end
        c0, nc = self.c0, self.nc
        customer_day, customer_type = self.customer_day, self.customer_type
        credit_limit = self.credit_limit
        ints = functools.partial(int_column, found, "customers")
        j = ids - c0
        inside = (j >= 0) & (j < nc)  # the others are reported by the scan
        if not inside.all():
            batch = list(compress(batch, inside.tolist()))
            ids, j = ids[inside], j[inside]
        where = functools.partial(found.add_where, "customers", ids)
        kind = ints(batch, "customer_type_id")
        where(
            ~np.isin(kind, kinds.ids), "customer_type_id → customer_types", lambda r: str(kind[r])
        )
        # An email ending with its own customer's ID is unique because IDs are.
        emails = [c.email for c in batch]
        where(
            flags(
                not e.rpartition("@")[0].endswith(f".{i}")
                for e, i in zip(emails, ids.tolist(), strict=True)
            ),
            "email is unique",
            lambda r: f"{emails[r]} is not derived from id {ids[r]}",
        )
        where(
            flags(EMAIL.match(e) is None for e in emails),
            "email on a reserved domain",
            lambda r: emails[r],
        )
        statuses = [c.status for c in batch]
        where(
            flags(status not in CUSTOMER_STATUSES for status in statuses),
            "status is active, inactive or suspended",
            lambda r: statuses[r],
        )
        limit = ints(batch, "credit_limit")
        where((limit < 0) | (limit > CREDIT_LIMIT_MAX), "credit_limit in 0-100,000")
        created, updated = ints(batch, "created_at"), ints(batch, "updated_at")
        where((created >= as_of_end) | (updated >= as_of_end), "nothing after as_of")
        where(updated < created, "updated_at >= created_at")
        customer_day[j] = created // DAY
        self.customer_status[j] = [CUSTOMER_STATUS_CODES.get(s, -1) for s in statuses]
        self.customer_updated[j] = updated // DAY
        customer_type[j] = np.where((kind >= 0) & (kind < TYPE_IDS), kind, 0)
        credit_limit[j] = np.minimum(limit, CREDIT_LIMIT_MAX + 1)

    def addresses(self, batch: list[Any], ids: Ints) -> None:
        found, parented, as_of_end = self.reader.found, self.reader.parented, self.as_of_end
        places = city_of()
        c0, a0, na, customer_day = self.c0, self.a0, self.na, self.customer_day
        address_owner, address_day = self.address_owner, self.address_day
        address_state, address_billing = self.address_state, self.address_billing
        address_count, primary_count = self.address_count, self.primary_count
        address_span, state_code = self.address_span, self.state_code
        ints = functools.partial(int_column, found, "customer_addresses")
        cid = ints(batch, "customer_id")
        k, j = ids - a0, cid - c0
        own = parented(
            "customer_addresses", ids, cid, c0, customer_day, "customer_id → customers",
            among=(k >= 0) & (k < na),
        )  # fmt: skip
        if not own.all():
            batch = list(compress(batch, own.tolist()))
            if not batch:
                return
            ids, k, j = ids[own], k[own], j[own]
        where = functools.partial(found.add_where, "customer_addresses", ids)
        created = ints(batch, "created_at")
        primary = ints(batch, "is_primary") != 0
        kinds_of = [a.address_type for a in batch]
        billing = flags(kind == "billing" for kind in kinds_of)
        states = [a.state for a in batch]
        address_owner[k] = j + 1
        address_day[k] = created // DAY
        address_state[k] = [state_code.setdefault(state, len(state_code)) for state in states]
        address_billing[k] = billing
        np.add.at(address_count, j, 1)
        np.add.at(primary_count, j, primary)
        address_span.see(j, ids)
        where(primary & ~billing, "the primary address is a billing address")
        where(
            flags(kind not in ("billing", "shipping") for kind in kinds_of),
            "address_type is billing or shipping",
        )
        where(created // DAY < customer_day[j], "address created after its customer")
        where(created >= as_of_end, "nothing after as_of")
        where(
            flags(
                a.country != "US" or state not in STATE_TAX_BP
                for a, state in zip(batch, states, strict=True)
            ),
            "a US state or DC",
            lambda r: states[r],
        )
        zips = [a.zip_code for a in batch]
        five = flags(ZIP.match(z) is not None for z in zips)
        where(~five, "zip_code is 5 digits", lambda r: zips[r])
        cities = [a.city for a in batch]
        where(
            five
            & flags(
                places.get((z, state)) != city
                for z, state, city in zip(zips, states, cities, strict=True)
            ),
            "(city, state, zip) is a real street-address ZIP",
            lambda r: f"{cities[r]}, {states[r]} {zips[r]}",
        )

    def address_counts(self) -> None:
        """Per customer: 1-3 addresses, one primary; then the states seen, coded."""
        found, customer_ids = self.reader.found, self.customer_ids
        customer_present = self.customer_day != 0
        address_count, primary_count = self.address_count, self.primary_count
        found.add_where(
            "customers", customer_ids,
            customer_present & ((address_count < 1) | (address_count > 3)),
            "1-3 addresses", lambda r: str(address_count[r]),
        )  # fmt: skip
        found.add_where(
            "customers", customer_ids, customer_present & (primary_count != 1),
            "exactly one primary address", lambda r: str(primary_count[r]),
        )  # fmt: skip
        self.state_names = list(self.state_code)
        self.state_tax = np.array(
            [STATE_TAX_BP.get(s, -1) for s in [*self.state_names, ""]], np.int64
        )

    def invoices(self, batch: list[Any], ids: Ints, at: Ints | None = None) -> None:
        """A batch of invoices: the shard's own (by ID), or the days' (`at`:
        their positions, from ni on)."""
        reader, kinds, as_of, as_of_end = self.reader, self.kinds, self.as_of, self.as_of_end
        found, parented = reader.found, reader.parented
        c0, i0, ni = self.c0, self.i0, self.ni
        customer_day, customer_type = self.customer_day, self.customer_type
        invoice_day, invoice_subtotal = self.invoice_day, self.invoice_subtotal
        invoice_discount, invoice_span = self.invoice_discount, self.invoice_span
        unpaid = self.unpaid
        ints = functools.partial(int_column, found, "invoices")
        cid = ints(batch, "customer_id")
        k, j = (ids - i0 if at is None else at), cid - c0
        own = parented(
            "invoices", ids, cid, c0, customer_day, "customer_id → customers",
            among=(k >= 0) & (k < ni) if at is None else None,  # others: reported by the scan
        )  # fmt: skip
        if not own.all():
            batch = list(compress(batch, own.tolist()))
            if not batch:
                return
            ids, cid, k, j = ids[own], cid[own], k[own], j[own]
        where = functools.partial(found.add_where, "invoices", ids)
        day = ints(batch, "invoice_date")
        due, created = ints(batch, "due_date"), ints(batch, "created_at")
        subtotal, rate = ints(batch, "subtotal"), ints(batch, "tax_rate")
        tax, total = ints(batch, "tax_amount"), ints(batch, "total")
        paid = ints(batch, "paid_date", NULL)
        invoice_day[k] = day
        invoice_subtotal[k] = subtotal
        if at is None:
            invoice_span.see(j, ids)
        np.maximum.at(self.last_invoice, j, day)
        kind = customer_type[j]
        invoice_discount[k] = kinds.discount[kind]

        # An invoice number ending with its own invoice's ID is unique because IDs are.
        numbers = np.array([inv.invoice_number for inv in batch], np.str_)
        suffixes = np.strings.add("-", np.strings.zfill(ids.astype(np.str_), 8))
        where(
            ~np.strings.endswith(numbers, suffixes), "invoice_number is unique",
            lambda r: f"{numbers[r]} is not derived from id {ids[r]}",
        )  # fmt: skip

        self.billing(ids, j, day, rate, ints(batch, "billing_address_id"), where)

        where(customer_day[j] > day, "customer created on or before the invoice date")
        where((day > as_of) | (created >= as_of_end), "nothing after as_of")
        terms_text = np.array([inv.payment_terms for inv in batch], object)
        where(
            (due != day + kinds.terms[kind]) | (terms_text != kinds.terms_text[kind]),
            "due_date = invoice_date + payment terms",
        )
        status = np.fromiter(
            map(INVOICE_STATUS_CODES.get, [inv.status for inv in batch], repeat(UNKNOWN)),
            np.int64, len(batch),
        )  # fmt: skip
        is_set, is_paid = paid != NULL, status == PAID
        where(is_set != is_paid, "paid ⇔ paid_date is set")
        where(is_set & ((paid < day) | (paid > as_of)), "invoice_date <= paid_date <= as_of")
        open_ = ~is_set & ~is_paid
        where(
            open_ & (status == UNKNOWN), "status is pending, paid or overdue",
            lambda r: str(batch[r].status),
        )  # fmt: skip
        where(
            open_ & (status != UNKNOWN) & ((status == OVERDUE) != (due < as_of)),
            "overdue ⇔ unpaid and due_date < as_of",
        )
        np.add.at(unpaid, j[~is_set], total[~is_set])
        np.add.at(self.overdue, j, ~is_set & (status == OVERDUE))
        where(
            tax != rounded_product((subtotal, rate), 10_000),
            "tax_amount = round(subtotal × tax_rate / 100)",
        )
        where(total != subtotal + tax, "total = subtotal + tax_amount")

    def billing(self, ids: Ints, j: Ints, day: Ints, rate: Ints, aid: Ints, where: Any) -> None:
        """An invoice's billing address: its customer's, a billing address that
        existed on the invoice date, whose state's tax rate the invoice charges."""
        reader, a0 = self.reader, self.a0
        parented = reader.parented
        address_owner, address_day = self.address_owner, self.address_day
        address_state, address_billing = self.address_state, self.address_billing
        state_names, state_tax = self.state_names, self.state_tax
        known = parented(
            "invoices", ids, aid, a0, address_owner, "billing_address_id → customer_addresses"
        )
        b = np.where(known, aid - a0, 0)
        mine = known & (address_owner[b] == j + 1)
        where(known & ~mine, "billing address belongs to the invoice's customer")
        where(mine & (address_day[b] > day), "billing address existed on the invoice date")
        where(mine & (address_billing[b] == 0), "billing address is a billing address")
        state = np.where(mine, address_state[b], len(state_names))
        where(
            mine & (rate != state_tax[state]), "tax rate is the billing state's",
            lambda r: f"{state_names[state[r]]} {rate[r]}",
        )  # fmt: skip
        # The first rate seen for each state is the state's; the merge
        # compares the first rates of all shards.
        seen = np.full(len(state_tax), NULL, np.int64)
        codes, firsts = np.unique(state[mine], return_index=True)
        for code, row in zip(codes.tolist(), np.flatnonzero(mine)[firsts].tolist(), strict=True):
            name = state_names[code]
            seen[code] = reader.state_rate.setdefault(name, (int(rate[row]), int(ids[row])))[0]
        where(
            mine & (rate != seen[state]), "one tax rate per state",
            lambda r: state_names[state[r]],
        )  # fmt: skip

    def line_items(self, batch: list[Any], ids: Ints, at: Ints | None = None) -> None:
        """A batch of line items: the shard's own, or (`at`: their invoices'
        positions) those of the days' invoices, found through their links."""
        found, parented, product_day = self.reader.found, self.reader.parented, self.product_day
        i0, invoice_day, invoice_discount = self.i0, self.invoice_day, self.invoice_discount
        line_span, line_sum, line_mask = self.line_span, self.line_sum, self.line_mask
        ints = functools.partial(int_column, found, "invoice_line_items")
        iid = ints(batch, "invoice_id")
        if at is None:
            k = iid - i0
            own = parented("invoice_line_items", ids, iid, i0, invoice_day, "invoice_id → invoices")
        else:
            k = at
            own = iid == self.invoice_ids[at]
            found.add_where(
                "invoice_line_items", ids, ~own, "invoice_id → invoices",
                lambda r: str(iid[r]),
            )  # fmt: skip
        if not own.all():
            batch = list(compress(batch, own.tolist()))
            if not batch:
                return
            ids, k = ids[own], k[own]
        where = functools.partial(found.add_where, "invoice_line_items", ids)
        line_span.see(k, ids)
        pid = ints(batch, "product_id")
        known = (pid > 0) & (pid < len(product_day))
        known[known] = product_day[pid[known]] != 0
        where(~known, "product_id → products", lambda r: str(pid[r]))
        day_of_product = product_day[np.where(known, pid, 0)]
        where(
            known & (day_of_product > invoice_day[k]),
            "product created on or before the invoice date",
        )
        # Line numbers 1..7 as bits; a bit seen before (in this batch or an
        # earlier one) is a repeat.
        number = ints(batch, "line_number")
        valid = (number >= 1) & (number <= 7)
        bit = np.where(valid, 1 << np.where(valid, number, 0), 0)
        repeat_ = valid & ((line_mask[k] & bit) != 0)
        slots = k * 8 + np.where(valid, number, 0)
        first_of_slot = np.zeros(len(batch), np.bool_)
        first_of_slot[np.unique(slots, return_index=True)[1]] = True
        repeat_ |= valid & ~first_of_slot
        where(~valid | repeat_, "(invoice_id, line_number) is unique and 1..n")
        np.bitwise_or.at(line_mask, k, bit)
        quantity, price = ints(batch, "quantity"), ints(batch, "unit_price")
        discount, line_total = ints(batch, "discount_percentage"), ints(batch, "line_total")
        where(quantity < 1, "quantity >= 1")
        in_range = (discount >= 0) & (discount <= 100)
        where(~in_range, "discount_percentage in 0-100")
        where(in_range & (discount != invoice_discount[k]), "discount is the customer type's")
        where(
            line_total != rounded_product((quantity, price, 100 - discount), 100),
            "line_total = round(qty × price × (100 − disc) / 100)",
        )
        np.add.at(line_sum, k, line_total)
        if at is not None:
            sold = self.reader.sold
            for product_id, units in zip(
                pid[known].tolist(), quantity[known].tolist(), strict=True
            ):
                sold[product_id] += units

    def invoice_totals(self) -> None:
        """Per invoice: 1-4 lines numbered 1..n summing to the subtotal; per
        customer: unpaid invoices within the credit limit."""
        found, invoice_ids = self.reader.found, self.invoice_ids
        present = self.invoice_day != 0
        count = self.line_span.count
        in_range = (count >= 1) & (count <= 4)
        numbered = in_range & (self.line_mask == (1 << np.where(in_range, count + 1, 0)) - 2)
        found.add_where(
            "invoices", invoice_ids, present & ~numbered, "1-4 line items numbered 1..n",
            lambda r: str(count[r]),
        )  # fmt: skip
        found.add_where(
            "invoices", invoice_ids, present & (self.line_sum != self.invoice_subtotal),
            "subtotal = Σ line_total",
        )  # fmt: skip
        present = self.customer_day != 0
        found.add_where(
            "customers", self.customer_ids, present & (self.unpaid > self.credit_limit),
            "unpaid invoices total <= credit_limit",
        )  # fmt: skip
        if self.grown is not None:
            # Suspended on a day of an advance: for an invoice still overdue.
            generated = self.grown.generated_as_of_day
            updated = self.customer_updated
            found.add_where(
                "customers", self.customer_ids,
                present & (self.customer_status == SUSPENDED) & (updated > generated)
                & (self.overdue == 0),
                "a suspended customer has an overdue invoice",
            )  # fmt: skip
            # Gone inactive on a day of an advance: nothing bought in the
            # quiet days before; inactive at generation: nothing bought since.
            limit = np.where(updated > generated, updated - QUIET_DAYS, generated)
            found.add_where(
                "customers", self.customer_ids,
                present & (self.customer_status == INACTIVE) & (self.last_invoice > limit),
                "an inactive customer bought nothing in its quiet period",
            )  # fmt: skip
