"""Every msgspec schema shardgen stores: the eight tables, the event log, meta.

Records are array-like (msgpack arrays, no field names), frozen, and not
tracked by the garbage collector. Money is integer cents, dates are days since
1970-01-01, timestamps are seconds since the epoch (UTC), tax rates are basis
points (hundredths of a percent). Exports turn them into the data contract's
types.

Schema evolution: fields are only ever appended, and SCHEMA_VERSION is bumped
with any change a previous reader could not decode. The version is stored in
meta and checked on open.
"""

from __future__ import annotations

from typing import Any

import msgspec

SCHEMA_VERSION = 1


class CustomerType(msgspec.Struct, frozen=True, array_like=True, gc=False):
    id: int
    name: str
    description: str
    credit_multiplier: float
    discount_percentage: int
    priority_level: int
    payment_terms_days: int
    active: bool
    created_at: int


class ProductCategory(msgspec.Struct, frozen=True, array_like=True, gc=False):
    id: int
    name: str
    description: str
    sku_prefix: str
    sort_order: int
    active: bool
    created_at: int


class Customer(msgspec.Struct, frozen=True, array_like=True, gc=False):
    id: int
    customer_type_id: int
    name: str
    company_name: str | None
    email: str
    phone: str
    status: str
    credit_limit: int
    created_at: int
    updated_at: int


class CustomerAddress(msgspec.Struct, frozen=True, array_like=True, gc=False):
    id: int
    customer_id: int
    address_type: str
    street_address: str
    street2: str | None
    city: str
    state: str
    zip_code: str
    county: str
    country: str
    is_primary: bool
    created_at: int


class Product(msgspec.Struct, frozen=True, array_like=True, gc=False):
    id: int
    product_category_id: int
    name: str
    sku: str
    description: str
    price: int
    cost: int
    weight: float
    active: bool
    created_at: int
    updated_at: int


class Inventory(msgspec.Struct, frozen=True, array_like=True, gc=False):
    id: int
    product_id: int
    warehouse: str
    quantity_on_hand: int
    reserved_quantity: int
    reorder_point: int
    reorder_quantity: int
    last_received_date: int
    last_received_quantity: int
    updated_at: int


class Invoice(msgspec.Struct, frozen=True, array_like=True, gc=False):
    id: int
    customer_id: int
    billing_address_id: int
    invoice_number: str
    invoice_date: int
    due_date: int
    payment_terms: str
    status: str
    paid_date: int | None
    subtotal: int
    tax_rate: int
    tax_amount: int
    total: int
    created_at: int


class InvoiceLineItem(msgspec.Struct, frozen=True, array_like=True, gc=False):
    id: int
    invoice_id: int
    line_number: int
    product_id: int
    description: str
    quantity: int
    unit_price: int
    discount_percentage: int
    line_total: int


Record = (
    CustomerType
    | ProductCategory
    | Customer
    | CustomerAddress
    | Product
    | Inventory
    | Invoice
    | InvoiceLineItem
)

#: The data contract's tables, in dependency order, with their record types.
TABLES: dict[str, type[Any]] = {
    "customer_types": CustomerType,
    "product_categories": ProductCategory,
    "customers": Customer,
    "customer_addresses": CustomerAddress,
    "products": Product,
    "inventory": Inventory,
    "invoices": Invoice,
    "invoice_line_items": InvoiceLineItem,
}

#: Parent → children links kept in the `links` database: (relation code,
#: parent table, child table). Children of a parent have consecutive IDs.
#: The codes of the parent → children relations in the store's `links`.
ADDRESSES, INVOICES, LINE_ITEMS = 1, 2, 3
RELATIONS: dict[str, tuple[int, str, str]] = {
    "addresses": (ADDRESSES, "customers", "customer_addresses"),
    "invoices": (INVOICES, "customers", "invoices"),
    "line_items": (LINE_ITEMS, "invoices", "invoice_line_items"),
}


# -- the event log ----------------------------------------------------------


class Versions(msgspec.Struct, frozen=True):
    shardgen: str
    schema: int
    python: str
    faker: str
    msgspec: str
    lmdb: str
    numpy: str = ""  # runs before 0.3.0 did not use it


class RunStarted(msgspec.Struct, frozen=True, tag="run_started"):
    at: float
    run_id: str
    plan: Any  # a plan.Plan, stored as its own msgpack map
    versions: Versions
    workers: int
    resumed: bool = False
    executor: str = "local"  # or "dask"; `workers` then counts the cluster's threads


class ShardCommitted(msgspec.Struct, frozen=True, tag="shard_committed"):
    at: float
    entity: str
    shard: int
    first_id: int
    last_id: int
    rows: dict[str, int]
    digest: str
    seconds: float
    pid: int
    rss: int
    uss: int


class MemorySample(msgspec.Struct, frozen=True, tag="memory_sample"):
    at: float
    rss: int
    uss: int
    processes: int
    anon: int = 0
    source: str = "coordinator"  # the coordinator's process tree, or "dask": its workers


class VerifyFinished(msgspec.Struct, frozen=True, tag="verify_finished"):
    at: float
    ok: bool
    violations: int
    digest: str
    seconds: float


class RunPromoted(msgspec.Struct, frozen=True, tag="run_promoted"):
    at: float
    digest: str
    seconds: float
    peak_rss: int
    peak_uss: int
    peak_anon: int = 0


class RunFailed(msgspec.Struct, frozen=True, tag="run_failed"):
    at: float
    error: str


class RunRolledBack(msgspec.Struct, frozen=True, tag="run_rolled_back"):
    at: float
    reason: str


class AdvanceStarted(msgspec.Struct, frozen=True, tag="advance_started"):
    at: float
    run_id: str
    from_as_of: str
    to_as_of: str
    versions: Versions
    workers: int
    resumed: bool = False


class DayAdvanced(msgspec.Struct, frozen=True, tag="day_advanced"):
    at: float
    day: str
    inserted: dict[str, int]
    updated: dict[str, int]
    seconds: float


Event = (
    RunStarted
    | ShardCommitted
    | MemorySample
    | VerifyFinished
    | RunPromoted
    | RunFailed
    | RunRolledBack
    | AdvanceStarted
    | DayAdvanced
)


class Meta(msgspec.Struct, frozen=True):
    """The store's header, under key b"meta" of the meta database."""

    schema_version: int
    shardgen_version: str
    plan: Any


# -- what advance keeps besides the tables (not part of the data contract) --


class Account(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A customer's running balance, in the `accounts` database."""

    unpaid: int  # cents owed on unpaid invoices
    overdue: int  # unpaid invoices past their due date
    last_day: int  # its last invoice's day (its creation day before any)


class Stock(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A product's inventory ledger, in the `stock` database: on hand now =
    `opening` + `received` − the units sold on invoices dated after `day`."""

    opening: int
    day: int
    received: int


class Change(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One row an advance inserted ("c") or updated ("u"), in the `changes`
    database by sequence number: the record's encodings before (msgpack nil
    for an insert) and after."""

    ts: int
    op: str
    table: str
    key: int
    before: msgspec.Raw
    after: msgspec.Raw


class Recent(msgspec.Struct, frozen=True, array_like=True):
    """What one generated shard created recently (meta b"recent:" + entity
    + shard): invoices in the 30 days up to as_of, customers and products in
    the year up to as_of; the business's recent daily rates."""

    customers: int
    products: int
    invoices: int


class Advanced(msgspec.Struct, frozen=True):
    """Where a store stands after advancing (meta b"advanced"): its as_of, the
    rows each table gained past the plan's, and the change feed's last seq."""

    as_of: str
    grown: dict[str, int]
    changes: int


ENCODER = msgspec.msgpack.Encoder()
EVENT_DECODER: msgspec.msgpack.Decoder[Event] = msgspec.msgpack.Decoder(Event)
META_DECODER = msgspec.msgpack.Decoder(Meta)
DECODERS: dict[str, msgspec.msgpack.Decoder[Any]] = {
    name: msgspec.msgpack.Decoder(cls) for name, cls in TABLES.items()
}
#: Decode many records in one call: their encodings joined under an array header.
BATCH_DECODERS: dict[str, msgspec.msgpack.Decoder[Any]] = {
    name: msgspec.msgpack.Decoder(list[cls])  # type: ignore[valid-type]
    for name, cls in TABLES.items()
}


def array_header(n: int) -> bytes:
    """The msgpack header of an array of n items."""
    if n < 16:
        return bytes((0x90 | n,))
    if n < 65_536:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


def to_builtins(obj: Any) -> Any:
    """A struct as plain Python data, for JSON output."""
    return msgspec.to_builtins(obj)
