"""The plan: row counts, shards, ID ranges and seeds, computed before any row.

A plan is pure data. Everything a shard generates is a function of the plan
and the shard, so the shard size is fixed here, never by the worker count, and
each shard's ID ranges are allocated up front.

    >>> plan = make_plan(volume="small", seed=7, as_of="2026-06-30")
    >>> plan.customers, plan.products, plan.invoices
    (10, 50, 25)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
from collections.abc import Sequence
from itertools import accumulate

import msgspec
import numpy as np
from numpy.typing import NDArray

from .errors import UsageError

#: Rows per preset: (customers, products, invoices).
VOLUMES: dict[str, tuple[int, int, int]] = {
    "small": (10, 50, 25),
    "medium": (100, 200, 500),
    "large": (1_000, 2_000, 10_000),
    "xl": (100_000, 200_000, 1_000_000),
}

#: Customers per customer shard (a shard also makes their addresses, invoices
#: and line items) and products per product shard (with their inventory).
CUSTOMER_SHARD_SIZE = 500
PRODUCT_SHARD_SIZE = 2_000

#: Distribution weights from the data contract; index i holds the weight of i+1.
ADDRESS_WEIGHTS = (3, 2, 1)  # 1-3 addresses: the draw list 1,1,1,2,2,3
LINE_WEIGHTS = (2, 2, 1, 1)  # 1-4 line items: the draw list 1,1,2,2,3,4

MAX_CUSTOMERS = 50_000_000
MAX_PRODUCTS = 50_000_000
MAX_INVOICES_PER_CUSTOMER = 1_000
MAX_SEED = 2**63 - 1
EPOCH = dt.date(1970, 1, 1)
EARLIEST_AS_OF = dt.date(2000, 1, 1)
LATEST_AS_OF = dt.date(2199, 12, 31)


class CustomerShard(msgspec.Struct, frozen=True, array_like=True):
    """A block of customers with everything they own, and its ID ranges."""

    index: int
    customer_first: int
    customers: int
    address_first: int
    addresses: int
    invoice_first: int
    invoices: int
    line_first: int
    lines: int


class ProductShard(msgspec.Struct, frozen=True, array_like=True):
    """A block of products with their inventory rows."""

    index: int
    product_first: int
    products: int


class Plan(msgspec.Struct, frozen=True):
    """Everything that determines the data: counts, seed, as_of, shards."""

    seed: int
    as_of: str
    customers: int
    products: int
    invoices: int
    customer_shard_size: int
    product_shard_size: int
    customer_shards: tuple[CustomerShard, ...]
    product_shards: tuple[ProductShard, ...]

    @property
    def as_of_day(self) -> int:
        """as_of as days since 1970-01-01."""
        return (dt.date.fromisoformat(self.as_of) - EPOCH).days

    @property
    def addresses(self) -> int:
        return sum(s.addresses for s in self.customer_shards)

    @property
    def line_items(self) -> int:
        return sum(s.lines for s in self.customer_shards)

    def rows(self) -> dict[str, int]:
        """Rows per table of the data contract."""
        from .make.catalog_vocabulary import CATEGORIES
        from .make.vocabulary import CUSTOMER_TYPES

        return {
            "customer_types": len(CUSTOMER_TYPES),
            "product_categories": len(CATEGORIES),
            "customers": self.customers,
            "customer_addresses": self.addresses,
            "products": self.products,
            "inventory": self.products,
            "invoices": self.invoices,
            "invoice_line_items": self.line_items,
        }


class GrownPlan(Plan, frozen=True):
    """The plan of an advanced store: the generated plan with its as_of moved
    to the day the store was advanced to, its counts grown by the rows the
    days added, and one more shard of each kind holding them (`grown`).

    The grown customer shard's invoices and line items belong to customers of
    every shard: each customer shard checks its customers' invoices that the
    days issued (the store's `later` index); the grown shard's own ranges are
    only read, counted and digested."""

    generated_as_of: str = ""
    generated_customer_shards: int = 0
    generated_product_shards: int = 0
    changes: int = 0  # in the change feed
    #: The first changes of the feed, verified before: the feed an advance
    #: started from, verified when it was promoted. The feed only grows, so an
    #: advance's verify checks only the changes its days added; `shardgen
    #: verify` checks them all (0).
    changes_checked: int = 0

    @property
    def generated_as_of_day(self) -> int:
        return (dt.date.fromisoformat(self.generated_as_of) - EPOCH).days

    def is_grown(self, shard: CustomerShard | ProductShard) -> bool:
        """Is the shard the one holding the rows the days added?"""
        if isinstance(shard, CustomerShard):
            return shard.index >= self.generated_customer_shards
        return shard.index >= self.generated_product_shards


def grown(plan: Plan, as_of: str, rows: dict[str, int], changes: int = 0) -> GrownPlan:
    """`plan` as a store advanced to `as_of` stands, with `rows` more per table
    and `changes` in its change feed."""
    last = plan.customer_shards[-1]
    products = plan.products
    customers = CustomerShard(
        len(plan.customer_shards), plan.customers + 1, rows.get("customers", 0),
        plan.addresses + 1, rows.get("customer_addresses", 0), plan.invoices + 1,
        rows.get("invoices", 0), last.line_first + last.lines, rows.get("invoice_line_items", 0),
    )  # fmt: skip
    fields = {f: getattr(plan, f) for f in plan.__struct_fields__}
    fields.update(
        as_of=as_of,
        customers=plan.customers + customers.customers,
        products=products + rows.get("products", 0),
        invoices=plan.invoices + customers.invoices,
        customer_shards=(*plan.customer_shards, customers),
        product_shards=(
            *plan.product_shards,
            ProductShard(len(plan.product_shards), products + 1, rows.get("products", 0)),
        ),
    )
    return GrownPlan(
        **fields,
        generated_as_of=plan.as_of,
        generated_customer_shards=len(plan.customer_shards),
        generated_product_shards=len(plan.product_shards),
        changes=changes,
    )


#: Below about this many rows per worker, starting worker processes (~0.3 s
#: each, with their imports and catalog) costs more than they save.
ROWS_PER_WORKER = 150_000


def default_workers(plan: Plan | None = None) -> int:
    """The CPU count, or fewer for a plan too small to share out."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpus = cpus or 1
    if plan is None:
        return cpus
    return max(1, min(cpus, sum(plan.rows().values()) // ROWS_PER_WORKER))


#: More processes than this many per CPU only add memory: shards are CPU-bound.
WORKERS_PER_CPU = 4


def check_workers(workers: object) -> int | None:
    """A --workers value, refused if it is not a count this machine can use."""
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UsageError(f"--workers must be a whole number of at least 1, got {workers!r}")
    most = WORKERS_PER_CPU * default_workers()
    if workers > most:
        raise UsageError(
            f"--workers {workers:,} is more than {WORKERS_PER_CPU} per CPU of this machine's "
            f"{default_workers()}: shards are CPU-bound, so more processes only add memory; "
            f"use at most --workers {most}, or leave it out for the CPU count"
        )
    return workers


def quota(total: int, weights: Sequence[int | float]) -> list[int]:
    """Split `total` in proportion to `weights` by largest remainder.

    The parts always sum to `total` and each is within one of its exact
    share; ties go to the earlier weight, so the split is deterministic.

    >>> quota(10, [75, 15, 10])
    [8, 1, 1]
    """
    weight_sum = sum(weights)
    exact = [total * w / weight_sum for w in weights]
    parts = [int(x) for x in exact]
    short = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:short]:
        parts[i] += 1
    return parts


#: Shard indexes from here on are an advance's arrivals (a day's new
#: customers or products), past any plan's shards.
ARRIVALS = 1 << 40


def split(
    total: int, weights: Sequence[int], columns: np.random.Generator, index: int
) -> list[int]:
    """`quota` for a generated shard. For an advance's arrivals (a shard
    `index` from ARRIVALS on: a day's few new rows) `spread` from a random
    offset, so that even one arrival is of each kind in its share."""
    if index < ARRIVALS:
        return quota(total, weights)
    return spread(total, weights, float(columns.random()))


def spread(total: int, weights: Sequence[int], offset: float) -> list[int]:
    """Split `total` by `weights`, each part within one of its exact share.

    Systematic rounding from a random `offset` in [0, 1): unlike largest
    remainder, the rounding does not repeat identically in every shard, so
    totals over many shards stay close to the exact shares for small weights too.
    """
    weight_sum = sum(weights)
    parts = []
    previous = 0
    for cum in accumulate(weights):
        edge = math.floor(total * cum / weight_sum + offset)
        parts.append(edge - previous)
        previous = edge
    parts[-1] += total - previous
    return parts


def derive_seed(root: int, *parts: str | int) -> int:
    """A 64-bit seed from the root seed and a path, stable across processes.

    blake2b, never Python's hash(): string hashing is salted per process.
    """
    text = ":".join([str(root), *map(str, parts)])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def generator(root: int, *parts: str | int) -> np.random.Generator:
    """A shard's numpy generator (PCG64), seeded like `derive_seed`."""
    return np.random.Generator(np.random.PCG64(derive_seed(root, *parts)))


def deal(counts: Sequence[int], columns: np.random.Generator) -> NDArray[np.int64]:
    """A quota dealt out in a seeded random order: [2, 1] → e.g. [0, 1, 0].

    Index i appears counts[i] times, so shares are exact at every size.
    """
    return columns.permutation(np.repeat(np.arange(len(counts), dtype=np.int64), counts))


def parse_as_of(value: str | dt.date | None) -> dt.date:
    """Parse and bound-check an as_of date; None means today in UTC."""
    if value is None:
        return dt.datetime.now(dt.UTC).date()
    if isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise UsageError(
                f"--as-of {value!r} is not a valid date: give it as YYYY-MM-DD, e.g. 2026-06-30"
            ) from None
    if not EARLIEST_AS_OF <= day <= LATEST_AS_OF:
        raise UsageError(
            f"--as-of {day.isoformat()} is out of range: choose a date between "
            f"{EARLIEST_AS_OF.isoformat()} and {LATEST_AS_OF.isoformat()}"
        )
    return day


def parse_day(value: str | dt.date, option: str) -> int:
    """The day number of a date an option gives (YYYY-MM-DD, as `parse_as_of`
    reads it); its errors name `option`."""
    try:
        return (parse_as_of(value if isinstance(value, dt.date) else str(value)) - EPOCH).days
    except UsageError as exc:
        raise UsageError(str(exc).replace("--as-of", option)) from None


def _count(name: str, value: object, maximum: int, why: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"--{name} must be a whole number, got {value!r}")
    if value < 1:
        raise UsageError(f"--{name} must be at least 1, got {value}")
    if value > maximum:
        raise UsageError(f"--{name} {value:,} is more than the supported {maximum:,}{why}")
    return value


def make_plan(
    volume: str | None = None,
    *,
    customers: int | None = None,
    products: int | None = None,
    invoices: int | None = None,
    seed: int = 0,
    as_of: str | dt.date | None = None,
    customer_shard_size: int = CUSTOMER_SHARD_SIZE,
    product_shard_size: int = PRODUCT_SHARD_SIZE,
) -> Plan:
    """Compute the plan for a volume preset, overridden by explicit counts."""
    if volume is None and None in (customers, products, invoices):
        volume = "small"
    if volume is not None and volume not in VOLUMES:
        raise UsageError(
            f"unknown volume {volume!r}: choose one of {', '.join(VOLUMES)} "
            "or give --customers, --products and --invoices"
        )
    preset = VOLUMES[volume] if volume is not None else (0, 0, 0)
    n_customers = _count(
        "customers", preset[0] if customers is None else customers, MAX_CUSTOMERS, ": lower it"
    )
    n_products = _count(
        "products", preset[1] if products is None else products, MAX_PRODUCTS, ": lower it"
    )
    n_invoices = _count(
        "invoices",
        preset[2] if invoices is None else invoices,
        n_customers * MAX_INVOICES_PER_CUSTOMER,
        f" ({MAX_INVOICES_PER_CUSTOMER:,} per customer for {n_customers:,} customers): "
        "lower --invoices or raise --customers",
    )
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise UsageError(f"--seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
    day = parse_as_of(as_of)
    for name, size in (
        ("customer_shard_size", customer_shard_size),
        ("product_shard_size", product_shard_size),
    ):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise UsageError(f"{name} must be a positive whole number, got {size!r}")

    customer_sizes = _blocks(n_customers, customer_shard_size)
    invoice_sizes = quota(n_invoices, customer_sizes)
    customer_shards = []
    next_customer = next_address = next_invoice = next_line = 1
    for index, (size, n_inv) in enumerate(zip(customer_sizes, invoice_sizes, strict=True)):
        n_addr = sum((k + 1) * q for k, q in enumerate(quota(size, ADDRESS_WEIGHTS)))
        n_lines = sum((k + 1) * q for k, q in enumerate(quota(n_inv, LINE_WEIGHTS)))
        customer_shards.append(
            CustomerShard(
                index, next_customer, size, next_address, n_addr,
                next_invoice, n_inv, next_line, n_lines,
            )
        )  # fmt: skip
        next_customer += size
        next_address += n_addr
        next_invoice += n_inv
        next_line += n_lines
    product_shards = []
    next_product = 1
    for index, size in enumerate(_blocks(n_products, product_shard_size)):
        product_shards.append(ProductShard(index, next_product, size))
        next_product += size
    return Plan(
        seed=seed,
        as_of=day.isoformat(),
        customers=n_customers,
        products=n_products,
        invoices=n_invoices,
        customer_shard_size=customer_shard_size,
        product_shard_size=product_shard_size,
        customer_shards=tuple(customer_shards),
        product_shards=tuple(product_shards),
    )


def _blocks(total: int, size: int) -> list[int]:
    full, rest = divmod(total, size)
    return [size] * full + ([rest] if rest else [])
