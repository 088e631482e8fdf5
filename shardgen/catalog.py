"""Products and inventory: pure generators, and the catalog customer shards sell from.

A product's core (category, name, cost, price, creation day, popularity) is
drawn from its own seed stream, so any process can rebuild the whole catalog
from the plan without talking to the process that writes the products. The
product shard adds the rest (description, weight, inventory) from another
stream.
"""

from __future__ import annotations

import functools
import math
import mmap
import os
import random
from array import array
from bisect import bisect_right
from collections.abc import Callable, Sequence
from itertools import accumulate
from pathlib import Path
from typing import Any, NamedTuple, cast

import numpy as np
from numpy.typing import NDArray

from .catalog_vocab import BENEFITS, CATEGORIES, WAREHOUSES
from .plan import Plan, ProductShard, dealt, derive_seed, quota
from .schema import Inventory, Product, ProductCategory

DAY = 86_400
#: Share of products (percent) launched inside the 12-month invoice window.
NEW_PRODUCT_SHARE = 15
#: Older products were launched up to this many days before the window.
CATALOG_AGE_DAYS = 6 * 365
#: Percent of products still active.
ACTIVE_PRODUCT_SHARE = 95
WAREHOUSE_WEIGHTS = (30, 25, 20, 15, 10, 10)
#: Records are stamped between 08:00 and 18:00.
WORKDAY_START = 8 * 3600
WORKDAY = 10 * 3600 + 1
#: Spread of popularity (sigma of a log-normal): a few best sellers.
POPULARITY_SIGMA = 1.3
#: Slices of the popularity total a pick first looks up: small enough to stay
#: in the CPU's cache, many enough that a pick bisects a few products.
PICK_SLICES = 4096


class ProductCore(NamedTuple):
    id: int
    category: int  # index into CATEGORIES
    noun: int  # index into the category's nouns
    name: str
    cost: int
    price: int
    created_day: int
    popularity: float


def foundation_created_at(plan: Plan) -> int:
    """When the foundation rows were set up: before any customer or product."""
    return (plan.as_of_day - 10 * 365) * DAY + 9 * 3600


def product_categories(plan: Plan) -> list[ProductCategory]:
    created = foundation_created_at(plan)
    return [
        ProductCategory(i + 1, c.name, c.description, c.sku_prefix, i + 1, True, created)
        for i, c in enumerate(CATEGORIES)
    ]


def price_for(cost: int, markup_min: int, markup_max: int, u: float) -> int:
    """A price whose markup over cost lies in [min, max] percent, exactly.

    `u` in [0, 1) picks the point in the range. Prefers a price ending in .99
    when one lies in the range.
    """
    low = cost + -(-cost * markup_min // 100)
    high = cost + cost * markup_max // 100
    if low > high:
        raise ValueError(f"no whole-cent price for cost {cost} in {markup_min}-{markup_max} %")
    price = low + int(u * (high - low + 1))
    nice = price // 100 * 100 + 99
    if low <= nice <= high:
        return nice
    if low <= nice - 100 <= high:
        return nice - 100
    return price


@functools.cache
def words_of(noun: str) -> frozenset[str]:
    return frozenset(noun.split())


def product_cores(plan: Plan, shard: ProductShard) -> list[ProductCore]:
    rng = random.Random(derive_seed(plan.seed, "product-core", shard.index))
    n = shard.products
    categories = dealt(quota(n, [c.share for c in CATEGORIES]), rng)
    # IDs follow launch order, as a database's serial keys would: the oldest
    # products first, spread evenly over CATALOG_AGE_DAYS before the invoice
    # window, then the new ones over the window. Product 1 predates every
    # invoice, and the products on sale on a day are a prefix of the IDs.
    old, new = quota(plan.products, [100 - NEW_PRODUCT_SHARE, NEW_PRODUCT_SHARE])
    window_start = plan.as_of_day - 364
    oldest = window_start - 1 - CATALOG_AGE_DAYS
    # random() scaled by hand: a third of the cost of randint()/choice().
    r = rng.random
    gauss = rng.gauss
    exp = math.exp
    models = "ACEGKMRSTVXZ"
    first_id = shard.product_first
    cores = []
    for i in range(n):
        category = CATEGORIES[categories[i]]
        nouns = category.nouns
        noun_index = int(r() * len(nouns))
        noun = nouns[noun_index]
        brands, adjectives = category.brands, category.adjectives
        brand = brands[int(r() * len(brands))]
        adjective = adjectives[int(r() * len(adjectives))]
        # A model code keeps names apart in a catalog of a million products.
        model = f"{models[int(r() * len(models))]}{int(r() * 990) + 10}"
        # "Portable Portable SSD" reads as a typo: skip a modifier the noun has.
        if adjective in words_of(noun.noun):
            name = f"{brand} {noun.noun} {model}"
        else:
            name = f"{brand} {adjective} {noun.noun} {model}"
        cost = noun.cost_min + int(r() * (noun.cost_max - noun.cost_min + 1))
        price = price_for(cost, category.markup_min, category.markup_max, r())
        k = first_id - 1 + i
        if k < old:
            created = oldest + int((k + r()) * (CATALOG_AGE_DAYS + 1) / old)
        else:
            created = window_start + int((k - old + r()) * 365 / new)
        cores.append(
            ProductCore(
                first_id + i, categories[i], noun_index, name, cost, price, created,
                exp(gauss(0.0, POPULARITY_SIGMA)),
            )
        )  # fmt: skip
    return cores


def product_shard(
    plan: Plan, shard: ProductShard, cores: list[ProductCore] | None = None
) -> tuple[list[Product], list[Inventory]]:
    """The products of one shard and their inventory rows (from the shard's
    `product_cores`, computed here unless given)."""
    if cores is None:
        cores = product_cores(plan, shard)
    rng = random.Random(derive_seed(plan.seed, "products", shard.index))
    as_of = plan.as_of_day
    inactive = dealt(quota(shard.products, [ACTIVE_PRODUCT_SHARE, 100 - ACTIVE_PRODUCT_SHARE]), rng)
    warehouses = [
        w for w, weight in zip(WAREHOUSES, WAREHOUSE_WEIGHTS, strict=True) for _ in range(weight)
    ]
    # random() scaled by hand: randint(), sample() and choices() cost several
    # times as much, and a product shard makes two rows per product.
    r = rng.random
    products: list[Product] = []
    inventory: list[Inventory] = []
    for i, core in enumerate(cores):
        category = CATEGORIES[core.category]
        noun = category.nouns[core.noun]
        features = noun.features
        first = int(r() * len(features))
        second = int(r() * (len(features) - 1))
        second += second >= first  # two different features
        benefit = BENEFITS[int(r() * len(BENEFITS))]
        description = f"{noun.noun} with {features[first]} and {features[second]}. {benefit}"
        weight = round(noun.weight_min + (noun.weight_max - noun.weight_min) * r(), 2)
        created_day = core.created_day
        created_at = created_day * DAY + WORKDAY_START + int(r() * WORKDAY)
        updated_day = created_day + int(r() * (as_of - created_day + 1))
        updated_at = max(created_at, updated_day * DAY + WORKDAY_START + int(r() * WORKDAY))
        products.append(
            Product(
                core.id, core.category + 1, core.name,
                f"{category.sku_prefix}-{core.id:06d}", description,
                core.price, core.cost, weight, not inactive[i], created_at, updated_at,
            )
        )  # fmt: skip
        # Stock follows popularity: best sellers are held in depth and
        # restocked recently.
        reorder_point = max(5, round(core.popularity * 12))
        reorder_quantity = max(10, round(reorder_point * (1.5 + 1.5 * r()) / 10) * 10)
        low = reorder_point // 2
        on_hand = low + int(r() * (reorder_point + reorder_quantity - low + 1))
        reserved = int(r() * (on_hand // 4 + 1))
        recent = max(created_day, as_of - max(7, round(120 / (1 + core.popularity))))
        received = recent + int(r() * (as_of - recent + 1))
        warehouse = warehouses[int(r() * len(warehouses))]
        inventory.append(
            Inventory(
                core.id, core.id, warehouse, on_hand, reserved, reorder_point,
                reorder_quantity, received, reorder_quantity,
                max(received * DAY + WORKDAY_START + int(r() * WORKDAY), created_at),
            )
        )  # fmt: skip
    return products, inventory


#: A catalog column entry per product: price (int64), popularity and its
#: running total (float64), creation day (int32), name (a length byte and up
#: to NAME_BYTES - 1 bytes of UTF-8).
NAME_BYTES = 72
BYTES_PER_PRODUCT = 8 + 8 + 8 + 4 + NAME_BYTES


class CatalogLayout(NamedTuple):
    """Where each column of an n-product catalog lies in its buffer."""

    products: int

    @property
    def size(self) -> int:
        return self.products * BYTES_PER_PRODUCT

    def column(self, name: str) -> tuple[int, int]:
        """(offset, bytes per product) of a column."""
        n = self.products
        return {
            "prices": (0, 8),
            "popularity": (8 * n, 8),
            "cum_popularity": (16 * n, 8),
            "created_days": (24 * n, 4),
            "names": (28 * n, NAME_BYTES),
        }[name]


class CatalogChunk(NamedTuple):
    """One product shard's part of the catalog, as the bytes of each column."""

    first_id: int
    columns: dict[str, bytes]


def catalog_chunk(cores: list[ProductCore]) -> CatalogChunk:
    """The catalog columns of a shard's products (IDs consecutive)."""
    names = bytearray()
    for core in cores:
        encoded = core.name.encode()
        if len(encoded) >= NAME_BYTES:
            raise ValueError(f"product name longer than {NAME_BYTES - 1} bytes: {core.name}")
        names += bytes((len(encoded),)) + encoded.ljust(NAME_BYTES - 1, b"\0")
    return CatalogChunk(
        cores[0].id,
        {
            "prices": array("q", [c.price for c in cores]).tobytes(),
            "popularity": array("d", [c.popularity for c in cores]).tobytes(),
            "created_days": array("i", [c.created_day for c in cores]).tobytes(),
            "names": bytes(names),
        },
    )


Write = Callable[[int, bytes], object]


def place_chunk(layout: CatalogLayout, chunk: CatalogChunk, write: Write) -> None:
    """Write a chunk's columns where the layout puts them: `write(offset, data)`."""
    for name, data in chunk.columns.items():
        offset, width = layout.column(name)
        write(offset + (chunk.first_id - 1) * width, data)


def finish_catalog(layout: CatalogLayout, buffer: memoryview, write: Write) -> None:
    """Fill in the running total of popularity, once every chunk is placed."""
    offset, _ = layout.column("popularity")
    popularity = buffer[offset : offset + 8 * layout.products].cast("d")
    cum = array("d", accumulate(popularity))
    write(layout.column("cum_popularity")[0], cum.tobytes())


class Catalog:
    """What a customer shard needs of every product: columns by product ID − 1,
    read in place from a buffer (a bytearray, or a file mapped by every worker).

    Products are in launch order, so those on sale on a day are a prefix.
    """

    def __init__(self, buffer: memoryview, products: int) -> None:
        layout = CatalogLayout(products)
        if len(buffer) != layout.size:
            raise ValueError(f"a catalog of {products} products takes {layout.size} bytes")
        self.products = products
        self.buffer = buffer

        def view(name: str) -> memoryview:
            offset, width = layout.column(name)
            return buffer[offset : offset + width * products]

        self.prices: Sequence[int] = view("prices").cast("q")
        self.cum_popularity = cast(Sequence[float], view("cum_popularity").cast("d"))
        self.created_days: Sequence[int] = view("created_days").cast("i")
        self.names = view("names")

        def column(name: str, dtype: type[np.generic]) -> NDArray[Any]:
            offset, width = layout.column(name)
            count = width * products // np.dtype(dtype).itemsize
            return np.frombuffer(buffer, dtype, count, offset)

        #: The same columns as arrays, for a shard's columns of line items.
        self.price_array: NDArray[np.int64] = column("prices", np.int64)
        self.cum_array: NDArray[np.float64] = column("cum_popularity", np.float64)
        self.name_slots = column("names", np.uint8).reshape(products, NAME_BYTES)
        cum = self.cum_popularity
        slots = min(products, PICK_SLICES)
        guide = [bisect_right(cum, j * cum[-1] / slots) for j in range(slots)]
        #: bounds[j]: the positions whose cumulative popularity can fall in the
        #: j-th of len(bounds) equal slices of the total, so a pick bisects a
        #: few positions, not all.
        self.bounds = list(zip(guide, [g + 1 for g in guide[1:]] + [products], strict=True))

    def sellable(self, day: int) -> int:
        """How many products (a prefix of the IDs) exist on `day`."""
        return bisect_right(self.created_days, day)

    def position(self, u: float, sellable: int) -> int:
        """The position (product ID − 1) of a product picked by popularity
        among the first `sellable`; u in [0, 1). Customer shards inline this."""
        cum = self.cum_popularity
        r = u * cum[sellable - 1]
        low, high = self.bounds[int(r / cum[-1] * len(self.bounds))]
        return min(bisect_right(cum, r, low, min(high, sellable)), sellable - 1)

    def pick(self, u: float, sellable: int) -> int:
        """A product ID, by popularity, among the first `sellable`; u in [0, 1)."""
        return self.position(u, sellable) + 1

    def name(self, position: int) -> str:
        start = position * NAME_BYTES
        return str(self.names[start + 1 : start + 1 + self.names[start]], "utf-8")

    def names_at(self, positions: NDArray[np.int64]) -> list[str]:
        """The names at many positions at once: slots are zero-padded, and a
        bytes array drops the padding."""
        raw = np.ascontiguousarray(self.name_slots[positions, 1:]).view(f"S{NAME_BYTES - 1}")
        return list(map(bytes.decode, raw.ravel().tolist()))

    def product(self, product_id: int) -> tuple[int, str, int]:
        """(price, name, created_day) of a product."""
        at = product_id - 1
        return self.prices[at], self.name(at), self.created_days[at]


def build_catalog(plan: Plan) -> Catalog:
    """The catalog, built in this process: what a worker without the run's
    catalog file (a Dask worker, a test) sells from."""
    layout = CatalogLayout(plan.products)
    buffer = bytearray(layout.size)

    def write(offset: int, data: bytes) -> None:
        buffer[offset : offset + len(data)] = data

    for shard in plan.product_shards:
        place_chunk(layout, catalog_chunk(product_cores(plan, shard)), write)
    finish_catalog(layout, memoryview(buffer), write)
    return Catalog(memoryview(buffer), plan.products)


class CatalogFile:
    """The run's catalog, shared by its local workers through one mapped file.

    Product shards place their chunks as they are generated; once all are
    placed, the coordinator finishes it and customer shards map it read-only:
    one copy in the page cache, not one per worker.
    """

    def __init__(self, path: Path, products: int) -> None:
        self.path = path
        self.layout = CatalogLayout(products)

    def create(self) -> None:
        with open(self.path, "wb") as file:
            file.truncate(self.layout.size)

    def place(self, chunk: CatalogChunk) -> None:
        fd = os.open(self.path, os.O_WRONLY)
        try:
            place_chunk(self.layout, chunk, lambda offset, data: os.pwrite(fd, data, offset))
        finally:
            os.close(fd)

    def finish(self) -> None:
        with open(self.path, "r+b") as file, mmap.mmap(file.fileno(), 0) as mapped:
            view = memoryview(mapped)
            try:
                fd = file.fileno()
                finish_catalog(self.layout, view, lambda offset, data: os.pwrite(fd, data, offset))
            finally:
                view.release()

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def open(self) -> Catalog:
        with open(self.path, "rb") as file:
            mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        return Catalog(memoryview(mapped), self.layout.products)


@functools.lru_cache(maxsize=2)
def catalog_for(plan: Plan) -> Catalog:
    """The catalog of a plan, built once per process."""
    return build_catalog(plan)
