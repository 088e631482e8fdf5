"""One day of a business's activity, in one write transaction.

The day's order is fixed: payments that fall due; invoices that turn
overdue; customers suspended (an invoice more than 60 days overdue), active
again (nothing overdue) or gone quiet; new customers and products at the
recent rates; new invoices at the recent daily rate for active customers
within their credit headroom; inventory leaving with the sales and restocked.
Everything a day does is a pure function of (seed, plan, day) and the store
as the day before left it: its draws come from the day's own generator, and
what it reads it reads from the transaction. Every row it inserts or updates
goes into the change feed (`Feed`) in the order it happens.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

import lmdb
import msgspec
import numpy as np

from ..errors import DamagedStoreError, damaged
from ..make.customers import customer_shard
from ..make.invoices import (
    NET_TERMS,
    QUANTITIES,
    TYPE_DISCOUNT,
    TYPE_TERMS,
    TYPE_VOLUME,
    line_total,
    tax_amount,
)
from ..make.products import DAY, product_cores, product_shard
from ..make.vocabulary import STATE_TAX_BP
from ..plan import ARRIVALS, LINE_WEIGHTS, CustomerShard, ProductShard, generator
from ..schema import (
    ADDRESSES,
    DECODERS,
    ENCODER,
    LINE_ITEMS,
    Account,
    Invoice,
    InvoiceLineItem,
    Stock,
)
from ..store import LINK, LINK_KEY, encode_links, key
from .business import ACTIVE, STATUS_CODES, Business, Feed, append, day_weight, iso, next_id
from .fates import pay_days, uniforms
from .ledger import (
    AGENDA_KEY,
    DELINQUENT,
    OVERDUE,
    PAY,
    QUIET,
    QUIET_DAYS,
    RESTOCK,
    agenda_key,
    invoice_agenda,
    quiet_day,
)

#: A quiet customer goes inactive on its quiet day with this probability.
QUIET_LEAVES = 0.5
#: When a day's new products go on sale: before its first invoice (08:00).
LAUNCH_TIME = 7 * 3600
#: A quiet customer that stays active is looked at again after this many days.
QUIET_AGAIN = 30
#: Rows a day reads or puts in place between drops of its page mappings
#: (`Store.release`): each maps 16 pages, so about 64 MB of them.
RELEASE_EVERY = 1024
#: Customers drawn, at most, to find each new invoice its buyer.
BUYER_TRIES = 20
#: An invoice's lines: (product id, price, name, quantity).
Lines = list[tuple[int, int, str, int]]
STOCK = msgspec.msgpack.Decoder(Stock)
LINE_DRAWS = np.array([n for n, w in enumerate(LINE_WEIGHTS, 1) for _ in range(w)], np.int64)
MAX_VOLUME = float(TYPE_VOLUME.max())


class Day:
    """One day's activity on an open write transaction (`run`)."""

    def __init__(self, business: Business, txn: lmdb.Transaction, day: int, feed: Feed) -> None:
        self.business = business
        self.store = business.store
        self.dbs = business.store.dbs
        self.txn = txn
        self.day = day
        self.feed = feed
        self.start = day * DAY
        self.draws = generator(business.plan.seed, "advance", day)
        self.paid_by: set[int] = set()  # customers who paid an invoice today
        self.sold: Counter[int] = Counter()  # product id → units
        self.issued: list[tuple[int, int, int]] = []  # new invoices' (id, type, due day)
        self.ids: dict[str, int] = {}  # the next ID of each table written today
        self.reads = 0  # rows read, for `Store.release`
        self.accounts: set[int] = set()  # customers whose account the day changed
        #: New invoices and line items, appended once the day has issued them
        #: all (no step reads them the day they are issued).
        self.appended: dict[str, list[tuple[bytes, bytes]]] = {}

    # -- reading and writing rows ------------------------------------------

    def touch(self, rows: int = 1) -> None:
        """Count rows read or put in place (a put finds its page as a read
        does); every RELEASE_EVERY, the pages the day has mapped so far
        leave this process's memory."""
        before = self.reads
        self.reads += rows
        if self.reads // RELEASE_EVERY != before // RELEASE_EVERY:
            self.store.release(trim=False)

    def get(self, table: str, row_id: int) -> tuple[Any, bytes]:
        self.touch()
        raw = self.txn.get(key(row_id), db=self.dbs[table])
        if raw is None:
            raise self.damaged(f"{table}: the row with id {row_id} is missing")
        try:
            return DECODERS[table].decode(raw), bytes(raw)
        except msgspec.DecodeError as exc:
            raise self.damaged(
                f"{table}: the row with id {row_id} does not decode ({exc})"
            ) from None

    def damaged(self, detail: str) -> DamagedStoreError:
        """The damaged-store error of the store advanced: a row the day
        needs is missing or unreadable."""
        return damaged(self.business.name, detail)

    def update(self, ts: int, table: str, row_id: int, before: bytes, record: Any) -> None:
        after = ENCODER.encode(record)
        self.txn.put(key(row_id), after, db=self.dbs[table])
        self.feed.add(ts, table, row_id, before, after)

    def insert(self, ts: int, table: str, record: Any) -> None:
        after = ENCODER.encode(record)
        if table in self.appended:
            self.appended[table].append((key(record.id), after))
        else:
            self.txn.put(key(record.id), after, db=self.dbs[table], overwrite=False)
        self.feed.add(ts, table, record.id, None, after)

    def next_id(self, table: str, count: int = 1) -> int:
        """The next ID of `table`; `count` IDs are taken from it."""
        found = self.ids.get(table)
        if found is None:
            found = next_id(self.txn, self.store, table)
        self.ids[table] = found + count
        return found

    def account(self, customer_id: int) -> Account:
        return self.business.buyers.account(customer_id)

    def put_account(self, customer_id: int, account: Account) -> None:
        """Set a customer's account; written to the store once the day is done."""
        self.business.buyers.set_account(customer_id, account)
        self.accounts.add(customer_id)

    def write_accounts(self) -> None:
        """The accounts the day changed, written in key order."""
        buyers = self.business.buyers
        self.touch(len(self.accounts))
        pairs = [(key(c), ENCODER.encode(buyers.account(c))) for c in sorted(self.accounts)]
        with self.txn.cursor(db=self.dbs["accounts"]) as cursor:
            cursor.putmulti(pairs)
        self.accounts.clear()

    def schedule(self, entries: list[tuple[int, int, int]]) -> None:
        self.touch(len(entries))
        for entry in entries:
            self.txn.put(agenda_key(*entry), b"", db=self.dbs["agenda"])

    def due(self, kind: int) -> Iterator[int]:
        """The IDs on today's agenda for `kind`, in order, each entry removed."""
        db = self.dbs["agenda"]
        ids = []
        with self.txn.cursor(db=db) as cursor:
            if cursor.set_range(agenda_key(self.day, kind, 0)):
                # Each entry deleted; the cursor moves on to the next (to none
                # at the end: an empty key).
                while (at := cursor.key()) and len(at) == AGENDA_KEY.size:
                    day, found, row_id = AGENDA_KEY.unpack(at)
                    if day != self.day or found != kind or not cursor.delete():
                        break
                    ids.append(row_id)
        yield from ids

    # -- the day -----------------------------------------------------------

    def run(self) -> None:
        if self.business.deliveries:  # the store's first day advanced
            self.schedule(self.business.deliveries)
            self.business.deliveries = []
        self.payments()
        self.overdue()
        self.customer_statuses()
        self.new_customers()
        self.new_products()
        self.new_invoices()
        self.inventory()
        self.write_accounts()

    def payments(self) -> None:
        ts = self.start + 10 * 3600
        for invoice_id in self.due(PAY):
            invoice, before = self.get("invoices", invoice_id)
            if invoice.paid_date is not None:
                continue
            self.update(
                ts, "invoices", invoice_id, before,
                msgspec.structs.replace(invoice, status="paid", paid_date=self.day),
            )  # fmt: skip
            account = self.account(invoice.customer_id)
            overdue = account.overdue - (invoice.status == "overdue")
            self.put_account(
                invoice.customer_id,
                Account(account.unpaid - invoice.total, overdue, account.last_day),
            )
            self.paid_by.add(invoice.customer_id)

    def overdue(self) -> None:
        for invoice_id in self.due(OVERDUE):
            invoice, before = self.get("invoices", invoice_id)
            if invoice.status != "pending" or invoice.due_date >= self.day:
                continue
            self.update(
                self.start, "invoices", invoice_id, before,
                msgspec.structs.replace(invoice, status="overdue"),
            )  # fmt: skip
            account = self.account(invoice.customer_id)
            self.put_account(
                invoice.customer_id,
                Account(account.unpaid, account.overdue + 1, account.last_day),
            )

    def customer_statuses(self) -> None:
        """Suspended with an invoice over 60 days overdue; active again when
        nothing is overdue; inactive, perhaps, after 180 quiet days."""
        suspend = set()
        for invoice_id in self.due(DELINQUENT):
            invoice, _ = self.get("invoices", invoice_id)
            if invoice.paid_date is None:
                suspend.add(invoice.customer_id)
        for customer_id in sorted(suspend):
            self.set_status(customer_id, "suspended", frozenset(("active", "inactive")))
        for customer_id in sorted(self.paid_by - suspend):
            if self.account(customer_id).overdue == 0 and self.set_status(
                customer_id, "active", frozenset(("suspended",))
            ):
                last = self.account(customer_id).last_day
                self.schedule([(quiet_day(last, self.day), QUIET, customer_id)])
        quiet = [
            c
            for c in self.due(QUIET)
            if self.account(c).last_day + QUIET_DAYS <= self.day
            and self.business.buyers.status[c] == ACTIVE
        ]
        if quiet:
            ids = np.array(quiet, np.int64) * 100_000 + self.day % 100_000
            leaves = uniforms(self.business.plan.seed, "quiet", ids, 1)[:, 0] < QUIET_LEAVES
            stays = np.array(quiet)
            for customer_id in stays[leaves].tolist():
                self.set_status(customer_id, "inactive", frozenset(("active",)))
            # Still active and quiet: its turn comes again in a month.
            self.schedule([(self.day + QUIET_AGAIN, QUIET, c) for c in stays[~leaves].tolist()])

    def set_status(self, customer_id: int, status: str, from_: frozenset[str]) -> bool:
        customer, before = self.get("customers", customer_id)
        if customer.status not in from_:
            return False
        self.update(
            self.start, "customers", customer_id, before,
            msgspec.structs.replace(customer, status=status, updated_at=self.start),
        )  # fmt: skip
        self.business.buyers.status[customer_id] = STATUS_CODES[status]
        return True

    def arrivals(self, rate: float) -> int:
        """How many arrive today at a daily `rate`: a Poisson draw."""
        return int(self.draws.poisson(rate)) if rate > 0 else 0

    def new_customers(self) -> None:
        count = self.arrivals(self.business.rates.customers)
        if not count:
            return
        store, plan = self.store, self.business.plan
        shard = CustomerShard(
            ARRIVALS + self.day, self.next_id("customers", count), count,
            next_id(self.txn, store, "customer_addresses"), 0, 0, 0, 0, 0,
        )  # fmt: skip
        made = customer_shard(plan, shard, self.business.catalog)
        when = self.draws.integers(8 * 3600, 18 * 3600, count).tolist()
        for customer, offset in zip(made.customers, when, strict=True):
            at = self.start + offset
            row = msgspec.structs.replace(customer, status="active", created_at=at, updated_at=at)
            self.insert(at, "customers", row)
            self.business.buyers.add(row)
            self.put_account(row.id, Account(0, 0, self.day))
            self.schedule([(quiet_day(self.day, self.day), QUIET, row.id)])
        created = {c.id: self.start + o for c, o in zip(made.customers, when, strict=True)}
        for address in made.addresses:
            at = created[address.customer_id]
            self.insert(at, "customer_addresses", msgspec.structs.replace(address, created_at=at))
        links = [link for link in made.links if link[0] == ADDRESSES]
        with self.txn.cursor(db=self.dbs["links"]) as cursor:
            cursor.putmulti(encode_links(links))

    def new_products(self) -> None:
        count = self.arrivals(self.business.rates.products)
        if not count:
            return
        plan, first = self.business.plan, self.next_id("products", count)
        launch = msgspec.structs.replace(plan, as_of=iso(self.day))
        shard = ProductShard(ARRIVALS + self.day, first, count)
        cores = [c._replace(created_day=self.day) for c in product_cores(launch, shard)]
        products, inventory = product_shard(launch, shard, cores)
        at = self.start + LAUNCH_TIME  # on sale before the day's first invoice
        for product, row in zip(products, inventory, strict=True):
            launched = msgspec.structs.replace(product, active=True, created_at=at, updated_at=at)
            self.insert(at, "products", launched)
            # Its first stock, received at launch (generate's row is a product
            # some time after its last delivery): on hand all that arrived,
            # nothing reserved yet.
            stock = msgspec.structs.replace(
                row,
                quantity_on_hand=row.last_received_quantity,
                reserved_quantity=0,
                updated_at=at,
            )
            self.insert(at, "inventory", stock)
            self.txn.put(
                key(stock.id),
                ENCODER.encode(Stock(stock.quantity_on_hand, self.day, 0)),
                db=self.dbs["stock"],
            )
            self.business.launched.append((product.id, product.price, product.name))

    def new_invoices(self) -> None:
        """The day's invoices: each slot's lines and its candidate buyers are
        drawn for all slots at once; the first candidate that can buy it does."""
        business, draws = self.business, self.draws
        weight = day_weight(self.day) / business.mean_weight
        count = self.arrivals(business.rates.invoices * weight)
        if not count:
            return
        customers = self.next_id("customers", 0) - 1
        self.appended = {"invoices": [], "invoice_line_items": []}
        candidates = draws.integers(1, customers + 1, (count, BUYER_TRIES)).tolist()
        accept = (draws.random((count, BUYER_TRIES)) * MAX_VOLUME).tolist()
        times = (8 * 3600 + draws.random(count) * 36_000).astype(np.int64).tolist()
        for slot, lines in enumerate(self.lines(count)):
            for customer_id, volume in zip(candidates[slot], accept[slot], strict=True):
                if self.sell_to(customer_id, volume, lines, times[slot]):
                    break
        for table, pairs in self.appended.items():
            append(self.txn, self.dbs[table], pairs)
        self.appended = {}
        if self.issued:
            # Each invoice's fate, from its own seed: the days on its agenda
            # (paid, if late; the days issue no bad debt).
            ids, kinds, due = (np.array(c, np.int64) for c in zip(*self.issued, strict=True))
            suspended = np.zeros(len(ids), np.bool_)  # only active customers buy
            pays = pay_days(
                business.plan.seed, ids, kinds, suspended, due, self.day, bad_debt=False
            )
            for invoice_id, pay, due_day in zip(
                ids.tolist(), pays.tolist(), due.tolist(), strict=True
            ):
                self.schedule(invoice_agenda(invoice_id, pay, due_day, self.day))

    def sell_to(self, customer_id: int, volume: float, lines: Lines, time_of_day: int) -> bool:
        """Issue an invoice of `lines` to a customer if it is active, kept by
        its type's volume (`volume` < its volume) and the invoice fits within
        its credit headroom, shrunk if need be; False if it cannot buy."""
        buyers = self.business.buyers
        kind, created = buyers.kind[customer_id], buyers.created[customer_id]
        if buyers.status[customer_id] != ACTIVE or created // DAY > self.day:
            return False
        if volume >= TYPE_VOLUME[kind]:
            return False
        account = self.account(customer_id)
        headroom = buyers.credit[customer_id] - account.unpaid
        if headroom <= 0:
            return False
        address_id, rate = self.billing(customer_id)
        discount = int(TYPE_DISCOUNT[kind])
        for attempt in range(3):
            if attempt == 1:
                lines = [(p, price, name, 1) for p, price, name, _ in lines]
            elif attempt == 2:
                lines = lines[:1]
            totals = [line_total(q, price, discount) for _, price, _, q in lines]
            subtotal = sum(totals)
            tax = tax_amount(subtotal, rate)
            if subtotal + tax <= headroom:
                break
        else:
            return False
        at = max(self.start + time_of_day, created)
        self.issue(customer_id, kind, address_id, rate, lines, totals, subtotal, tax, account, at)
        return True

    def billing(self, customer_id: int) -> tuple[int, int]:
        """The customer's primary billing address and its state's tax rate
        (facts that never change: kept for the advance once read)."""
        known = self.business.billing.get(customer_id)
        if known is None:
            known = self.business.billing[customer_id] = self.primary(customer_id)
        return known

    def primary(self, customer_id: int) -> tuple[int, int]:
        raw = self.txn.get(LINK_KEY.pack(ADDRESSES, customer_id), db=self.dbs["links"])
        if raw is None or len(raw) != LINK.size:
            raise self.damaged(f"links: customer {customer_id}'s addresses are missing")
        first, count = LINK.unpack(raw)
        for address_id in range(first, first + count):
            address, _ = self.get("customer_addresses", address_id)
            if address.is_primary:
                return address_id, STATE_TAX_BP[address.state]
        raise self.damaged(f"customer_addresses: customer {customer_id} has no primary address")

    def lines(self, count: int) -> list[Lines]:
        """The lines of `count` invoices: 1-4 (product id, price, name,
        quantity) each, by popularity among the products on sale (never a
        generated product that is not `active`), no product twice; a product
        launched by an advance in its share of all those on sale. Drawn at
        once."""
        business, draws = self.business, self.draws
        catalog, launched = business.catalog, business.launched
        selling = business.on_sale  # generated products on sale
        u = draws.random((count, 13))  # the count, then per line: pick, new or not, quantity
        counts = LINE_DRAWS[(u[:, 0] * len(LINE_DRAWS)).astype(np.int64)]
        used = np.arange(4) < counts[:, None]
        picks, amounts = u[:, 1:5], u[:, 9:13]
        is_new = used & (u[:, 5:9] * (selling + len(launched)) < len(launched))
        old = used & ~is_new
        at = business.picks(picks[old])  # generated products still on sale
        olds = iter(
            zip((at + 1).tolist(), catalog.prices[at].tolist(), catalog.names_at(at), strict=True)
        )
        quantities = QUANTITIES[(amounts * len(QUANTITIES)).astype(np.int64)].tolist()
        new_at = (picks * len(launched)).astype(np.int64).tolist()
        found = []
        for slot, (n, new) in enumerate(zip(counts.tolist(), is_new.tolist(), strict=True)):
            picked: dict[int, tuple[int, str, int]] = {}
            for line in range(n):
                if new[line]:
                    product_id, price, name = launched[new_at[slot][line]]
                else:
                    product_id, price, name = next(olds)
                picked.setdefault(product_id, (price, name, quantities[slot][line]))
            found.append([(product_id, *sale) for product_id, sale in picked.items()])
        return found

    def issue(
        self,
        customer_id: int,
        kind: int,
        address_id: int,
        rate: int,
        lines: Lines,
        totals: list[int],
        subtotal: int,
        tax: int,
        account: Account,
        at: int,
    ) -> None:
        invoice_id = self.next_id("invoices")
        line_first = self.next_id("invoice_line_items", len(lines))
        terms = int(TYPE_TERMS[kind])
        due = self.day + terms
        total = subtotal + tax
        invoice = Invoice(
            invoice_id, customer_id, address_id, f"INV-{invoice_id:08d}", self.day, due,
            NET_TERMS[kind], "pending", None, subtotal, rate, tax, total, at,
        )  # fmt: skip
        self.insert(at, "invoices", invoice)
        discount = int(TYPE_DISCOUNT[kind])
        for number, ((product_id, price, name, q), amount) in enumerate(
            zip(lines, totals, strict=True), 1
        ):
            line = InvoiceLineItem(
                line_first + number - 1, invoice_id, number, product_id, name, q, price,
                discount, amount,
            )  # fmt: skip
            self.insert(at, "invoice_line_items", line)
            self.sold[product_id] += q
        self.txn.put(
            LINK_KEY.pack(LINE_ITEMS, invoice_id), LINK.pack(line_first, len(lines)),
            db=self.dbs["links"],
        )  # fmt: skip
        self.touch()
        self.txn.put(key(customer_id) + key(invoice_id), b"", db=self.dbs["later"])
        self.put_account(customer_id, Account(account.unpaid + total, account.overdue, self.day))
        self.issued.append((invoice_id, kind, due))
        self.schedule([(self.day + QUIET_DAYS, QUIET, customer_id)])

    def inventory(self) -> None:
        """Sold units leave; below the reorder point, stock arrives that day.
        A delivery generate left on its way arrives on its day, if the
        product is still below its reorder point then."""
        ts = self.start + 18 * 3600
        arriving = set(self.due(RESTOCK))
        for product_id in sorted(self.sold.keys() | arriving):
            row, before = self.get("inventory", product_id)
            on_hand = row.quantity_on_hand - self.sold[product_id]
            received = 0
            if on_hand < row.reorder_point:
                shipments = math.ceil((row.reorder_point - on_hand) / row.reorder_quantity)
                received = max(1, shipments) * row.reorder_quantity
                on_hand += received
            elif product_id not in self.sold:
                continue  # restocked already, after a sale
            changed = msgspec.structs.replace(
                row,
                quantity_on_hand=on_hand,
                reserved_quantity=min(row.reserved_quantity, on_hand),
                updated_at=ts,
            )
            if received:
                changed = msgspec.structs.replace(
                    changed, last_received_date=self.day, last_received_quantity=received
                )
                try:
                    stock = STOCK.decode(self.txn.get(key(product_id), db=self.dbs["stock"]) or b"")
                except msgspec.DecodeError:
                    raise self.damaged(
                        f"stock: product {product_id}'s is missing or unreadable"
                    ) from None
                self.txn.put(
                    key(product_id),
                    ENCODER.encode(Stock(stock.opening, stock.day, stock.received + received)),
                    db=self.dbs["stock"],
                )
            self.update(ts, "inventory", product_id, before, changed)
