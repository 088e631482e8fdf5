"""What the days of one advance share: the business's recent rates, the
catalog and the products the days launched, the change feed a day appends
to, and the day weights the invoice rate is spread by."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import lmdb
import msgspec
import numpy as np
from numpy.typing import NDArray

from ..errors import damaged
from ..make.catalog import BYTES_PER_PRODUCT, Catalog, CatalogLayout, build_catalog
from ..make.vocabulary import Q4_LIFT, WEEKEND_WEIGHT
from ..plan import EPOCH, Plan
from ..schema import ENCODER, Account, Change, Customer
from ..store import Snapshot, Store, key
from ..versions import __version__
from .ledger import RECENT_DAYS, restock_agenda


class Rates(msgspec.Struct, frozen=True):
    """The business's recent daily rates, from what generate recorded."""

    customers: float
    products: float
    invoices: float


#: A customer's status as `Buyers` keeps it.
STATUS_CODES = {"active": 0, "inactive": 1, "suspended": 2}
ACTIVE = STATUS_CODES["active"]


class _BuyerRow(msgspec.Struct, array_like=True, gc=False):
    """A customer's record as `Buyers` reads it: its text left undecoded."""

    id: int
    customer_type_id: int
    name: msgspec.Raw
    company_name: msgspec.Raw
    email: msgspec.Raw
    phone: msgspec.Raw
    status: str
    credit_limit: int
    created_at: int
    updated_at: int


class _ProductRow(msgspec.Struct, array_like=True, gc=False):
    """A product's record as `on_sale` reads it: whether it is on sale."""

    id: int
    product_category_id: int
    name: msgspec.Raw
    sku: msgspec.Raw
    description: msgspec.Raw
    price: int
    cost: int
    weight: float
    active: bool


class _StockRow(msgspec.Struct, array_like=True, gc=False):
    """An inventory record as `low_stock` reads it: its stock and reorder point."""

    id: int
    product_id: int
    warehouse: msgspec.Raw
    quantity_on_hand: int
    reserved_quantity: int
    reorder_point: int


_BUYER_ROWS = msgspec.msgpack.Decoder(list[_BuyerRow])
_PRODUCT_ROWS = msgspec.msgpack.Decoder(list[_ProductRow])
_STOCK_ROWS = msgspec.msgpack.Decoder(list[_StockRow])
_ACCOUNTS = msgspec.msgpack.Decoder(list[Account])
#: Rows read from the store at a time: customers and their accounts (`Buyers`),
#: products and their inventory (`on_sale`, `low_stock`).
ROWS_CHUNK = 1 << 16


class Buyers:
    """What a day's sales look at of every customer, by ID, kept in step with
    the days' writes: its type (`customer_type_id` - 1), status (a code of
    `STATUS_CODES`), credit limit and creation time, and its account (what
    it owes, its overdue invoices, its last invoice's day). Read from the
    store once per advance, so that the customers drawn as buyers, most of
    whom do not buy, are not read and decoded from the store one by one, and
    an account changed several times in a day is written once (`Day.run`)."""

    def __init__(self, store: Store, name: object) -> None:
        self.kind = array("b", [0])  # index 0: no customer
        self.status = array("b", [0])
        self.credit = array("q", [0])
        self.created = array("q", [0])
        self.unpaid = array("q", [0])
        self.overdue = array("q", [0])
        self.last_day = array("q", [0])
        with _read_or_damaged(name, "its customers or their accounts"):
            self._read(store)

    def _read(self, store: Store) -> None:
        codes = STATUS_CODES
        with store.snapshot(release=True) as view:
            count = int(view.txn.stat(view.dbs["customers"])["entries"])
            for (_, rows), (_, accounts) in zip(
                _rows(view, "customers", count, _BUYER_ROWS),
                _rows(view, "accounts", count, _ACCOUNTS),
                strict=True,
            ):
                self.kind.extend([row.customer_type_id - 1 for row in rows])
                self.status.extend([codes[row.status] for row in rows])
                self.credit.extend([row.credit_limit for row in rows])
                self.created.extend([row.created_at for row in rows])
                self.unpaid.extend([account.unpaid for account in accounts])
                self.overdue.extend([account.overdue for account in accounts])
                self.last_day.extend([account.last_day for account in accounts])

    def add(self, customer: Customer) -> None:
        """A new customer, the next ID (its account empty until it is set)."""
        if customer.id != len(self.kind):
            raise AssertionError(f"customer {customer.id} is not the next, {len(self.kind)}")
        self.kind.append(customer.customer_type_id - 1)
        self.status.append(STATUS_CODES[customer.status])
        self.credit.append(customer.credit_limit)
        self.created.append(customer.created_at)
        self.unpaid.append(0)
        self.overdue.append(0)
        self.last_day.append(0)

    def account(self, customer_id: int) -> Account:
        return Account(
            self.unpaid[customer_id], self.overdue[customer_id], self.last_day[customer_id]
        )

    def set_account(self, customer_id: int, account: Account) -> None:
        self.unpaid[customer_id] = account.unpaid
        self.overdue[customer_id] = account.overdue
        self.last_day[customer_id] = account.last_day


def _rows(
    view: Snapshot, table: str, count: int, decoder: msgspec.msgpack.Decoder[Any]
) -> Iterator[tuple[int, list[Any]]]:
    """Rows 1 .. `count` of `table`, ROWS_CHUNK at a time, from the store's
    pages: each chunk's first ID and its rows, decoded in one call."""
    for first in range(1, count + 1, ROWS_CHUNK):
        size = min(ROWS_CHUNK, count + 1 - first)
        yield first, decoder.decode(view.values(table, first, size)[0])


@contextlib.contextmanager
def _read_or_damaged(name: object, what: str) -> Iterator[None]:
    """A row of `what` missing or damaged where the block reads it: the
    damaged-store error of `name`, the store advanced."""
    try:
        yield
    except (LookupError, OverflowError, msgspec.DecodeError) as exc:
        raise damaged(name, f"{what}: {exc}") from None


def on_sale(store: Store, plan: Plan, name: object) -> NDArray[np.bool_]:
    """Which of the generated products are on sale (`active`), by ID - 1
    (damage there is the damaged-store error of `name`)."""
    active = np.zeros(plan.products, np.bool_)
    with (
        _read_or_damaged(name, "its products or their inventory"),
        store.snapshot(release=True) as view,
    ):
        for first, products in _rows(view, "products", plan.products, _PRODUCT_ROWS):
            active[first - 1 : first - 1 + len(products)] = [p.active for p in products]
    return active


def low_stock(store: Store, active: NDArray[np.bool_], name: object) -> list[int]:
    """The generated products on sale (`active`, by ID - 1) whose stock is
    below their reorder point, in ID order (damage there is the
    damaged-store error of `name`)."""
    low: list[int] = []
    with (
        _read_or_damaged(name, "its products or their inventory"),
        store.snapshot(release=True) as view,
    ):
        for first, stock in _rows(view, "inventory", len(active), _STOCK_ROWS):
            selling = active[first - 1 : first - 1 + len(stock)].tolist()
            low += [
                row.id
                for row, sells in zip(stock, selling, strict=True)
                if sells and row.quantity_on_hand < row.reorder_point
            ]
    return low


class Business:
    """What the days of one advance share: the plan, the catalog, the rates,
    the products the days have launched and the customers' facts a sale
    looks at (read from the store once; damage there is the damaged-store
    error of `name`, the store advanced)."""

    def __init__(
        self, store: Store, plan: Plan, catalog: Catalog, rates: Rates, name: object
    ) -> None:
        self.store = store
        self.plan = plan
        self.catalog = catalog
        self.rates = rates
        self.launched: list[tuple[int, int, str]] = []  # (id, price, name) past the plan's
        #: Customers' primary billing address and tax rate, as days read them.
        self.billing: dict[int, tuple[int, int]] = {}
        for product in store.scan_from("products", plan.products + 1):
            self.launched.append((product.id, product.price, product.name))
        self.mean_weight = mean_weight(plan.as_of_day)
        self.name = name  # the store advanced (not its staging copy), for errors
        self.buyers = Buyers(store, name)
        active = kept_on_sale(store, plan, name)
        #: The generated products' popularity, summed in ID order over those
        #: on sale only: what a day's lines are picked by (`picks`).
        popularity = np.diff(catalog.cum_popularity, prepend=0.0)
        self.on_sale_popularity = np.cumsum(np.where(active, popularity, 0.0))
        self.on_sale = int(active.sum())  # how many generated products are on sale
        #: The deliveries on their way at generation, put on the agenda by
        #: the first day a store is advanced (in its transaction).
        self.deliveries: list[tuple[int, int, int]] = []
        if store.advanced() is None:
            self.deliveries = restock_agenda(
                plan.seed, low_stock(store, active, name), plan.as_of_day
            )

    def picks(self, u: NDArray[np.float64]) -> NDArray[np.int64]:
        """Positions (product ID - 1) of generated products on sale, picked
        by popularity; u in [0, 1)."""
        cum = self.on_sale_popularity
        at = np.searchsorted(cum, u * cum[-1], side="right")
        picked: NDArray[np.int64] = np.minimum(at, len(cum) - 1).astype(np.int64)
        return picked


#: Where an advanced store keeps its plan's catalog (in `meta`), and what it
#: was built for: the first advance builds it (0.5 s at xl, a tenth of a
#: day's advance), the next ones read it.
CATALOG_STATE = "catalog"
CATALOG_MARK = "catalog-for"


#: Where an advanced store keeps which of its generated products are on sale
#: (in `meta`, a byte each by ID - 1), and what for: the first advance reads
#: them from the products (0.16-0.22 s at xl), the next ones from here. No
#: day changes them: the days take no product off sale.
ON_SALE_STATE = "on-sale"
ON_SALE_MARK = "on-sale-for"


def kept(
    store: Store, plan: Plan, state: str, mark: str, size: int, make: Callable[[], Any]
) -> Any:
    """What the store keeps in `meta` under `state`, `size` bytes, when the
    digest beside it (under `mark`) is of this plan and shardgen; else what
    `make()` gives (bytes or a buffer), kept there with that digest."""
    digest = hashlib.blake2b(
        ENCODER.encode(plan) + f"{__version__}/{BYTES_PER_PRODUCT}".encode(), digest_size=16
    ).digest()
    found = store.state(state) if store.state(mark) == digest else None
    if found is not None and len(found) == size:
        return found
    made = make()
    with store.write() as txn:
        txn.put(state.encode(), made, db=store.dbs["meta"])
        txn.put(mark.encode(), digest, db=store.dbs["meta"])
    return made


def kept_catalog(store: Store, plan: Plan) -> Catalog:
    """The plan's catalog, as the store keeps it, or built and kept in it
    (`kept`): a catalog kept for another plan or shardgen is built again."""
    size = CatalogLayout(plan.products).size
    buffer = kept(
        store, plan, CATALOG_STATE, CATALOG_MARK, size, lambda: build_catalog(plan).buffer
    )
    store.release()  # the pages the catalog was read or written through
    return Catalog(memoryview(buffer), plan.products)


def kept_on_sale(store: Store, plan: Plan, name: object) -> NDArray[np.bool_]:
    """Which generated products are on sale (`on_sale`), as the store keeps
    them, or read from its products and kept in it (`kept`)."""
    flags = kept(
        store, plan, ON_SALE_STATE, ON_SALE_MARK, plan.products,
        lambda: on_sale(store, plan, name).tobytes(),
    )  # fmt: skip
    return np.frombuffer(flags, np.bool_).copy()


#: Changes appended to the feed at a time.
FEED_BATCH = 4096


class Feed:
    """A day's changes, appended to the `changes` database in order."""

    def __init__(self, store: Store, txn: lmdb.Transaction, seq: int) -> None:
        self.txn = txn
        self.db = store.dbs["changes"]
        self.seq = seq
        self.inserted: Counter[str] = Counter()
        self.updated: Counter[str] = Counter()
        self.pending: list[tuple[bytes, bytes]] = []  # appended a batch at a time (`flush`)

    def add(self, ts: int, table: str, row_id: int, before: bytes | None, after: bytes) -> None:
        self.seq += 1
        change = Change(
            ts,
            "u" if before is not None else "c",
            table,
            row_id,
            msgspec.Raw(b"\xc0" if before is None else before),
            msgspec.Raw(after),
        )
        self.pending.append((key(self.seq), ENCODER.encode(change)))
        if len(self.pending) == FEED_BATCH:
            self.flush()
        (self.updated if before is not None else self.inserted)[table] += 1

    def flush(self) -> None:
        """Append the changes so far: nothing reads the feed during a day."""
        append(self.txn, self.db, self.pending)
        self.pending = []


def append(txn: lmdb.Transaction, db: Any, pairs: list[tuple[bytes, bytes]]) -> None:
    """Append pairs with keys past the database's last, in order."""
    if pairs:
        with txn.cursor(db=db) as cursor:
            _, added = cursor.putmulti(pairs, append=True)
        if added != len(pairs):
            raise AssertionError(f"{len(pairs) - added} keys were not past the last")


def next_id(txn: lmdb.Transaction, store: Store, table: str) -> int:
    with txn.cursor(db=store.dbs[table]) as cursor:
        return int.from_bytes(cursor.key(), "big") + 1 if cursor.last() else 1


def iso(day: int) -> str:
    return (EPOCH + dt.timedelta(days=day)).isoformat()


def day_weight(day: int) -> float:
    """A day's share of invoices: fewer on weekends, more in the fourth quarter."""
    date = EPOCH + dt.timedelta(days=day)
    weight = WEEKEND_WEIGHT if date.weekday() >= 5 else 1.0
    return weight * (Q4_LIFT if date.month >= 10 else 1.0)


def mean_weight(as_of: int) -> float:
    """The mean day weight of the days the recent invoice rate was measured
    over (the RECENT_DAYS up to the generated as_of): a day of that weight
    gets the rate, a weekend day or a Q4 day its share of it."""
    days = range(as_of - RECENT_DAYS + 1, as_of + 1)
    return sum(map(day_weight, days)) / len(days)
