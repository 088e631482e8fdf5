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
import random
from array import array
from bisect import bisect_right
from itertools import accumulate
from typing import NamedTuple

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
    is_new = dealt(quota(n, [100 - NEW_PRODUCT_SHARE, NEW_PRODUCT_SHARE]), rng)
    if shard.index == 0 and is_new[0]:
        # Product 1 predates every invoice, so every invoice date has a
        # product to sell whatever the counts (the quota always holds an
        # older product).
        j = is_new.index(0)
        is_new[0], is_new[j] = 0, 1
    window_start = plan.as_of_day - 364
    # random() scaled by hand: a third of the cost of randint()/choice(), and
    # the catalog is rebuilt in every worker process.
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
        if is_new[i]:
            created = window_start + int(r() * 365)
        else:
            created = window_start - 1 - int(r() * (CATALOG_AGE_DAYS + 1))
        cores.append(
            ProductCore(
                first_id + i, categories[i], noun_index, name, cost, price, created,
                exp(gauss(0.0, POPULARITY_SIGMA)),
            )
        )  # fmt: skip
    return cores


def product_shard(plan: Plan, shard: ProductShard) -> tuple[list[Product], list[Inventory]]:
    """The products of one shard and their inventory rows."""
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
    for i, core in enumerate(product_cores(plan, shard)):
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


class Catalog(NamedTuple):
    """What a customer shard needs of every product, by launch position.

    Products are in launch order (created_day, then id): the products on sale
    on a day are a prefix. Columns are compact arrays, a few bytes a product,
    because every worker process holds one catalog.
    """

    order: array[int]  # product IDs by launch position
    created_days: array[int]
    cum_popularity: array[float]
    prices: array[int]
    names: list[str]
    #: bounds[j]: the positions whose cumulative popularity can fall in the
    #: j-th of len(bounds) equal slices of the total, so a pick bisects a few
    #: positions, not all.
    bounds: list[tuple[int, int]]
    position_of: array[int]  # launch position by product ID (index 0 unused)

    def sellable(self, day: int) -> int:
        """How many products (a prefix of the launch order) exist on `day`."""
        return bisect_right(self.created_days, day)

    def position(self, u: float, sellable: int) -> int:
        """The launch position of a product picked by popularity among the
        first `sellable`; u in [0, 1). Customer shards inline this."""
        cum = self.cum_popularity
        r = u * cum[sellable - 1]
        low, high = self.bounds[int(r / cum[-1] * len(self.bounds))]
        return min(bisect_right(cum, r, low, min(high, sellable)), sellable - 1)

    def pick(self, u: float, sellable: int) -> int:
        """A product ID, by popularity, among the first `sellable`; u in [0, 1)."""
        return self.order[self.position(u, sellable)]

    def product(self, product_id: int) -> tuple[int, str, int]:
        """(price, name, created_day) of a product."""
        at = self.position_of[product_id]
        return self.prices[at], self.names[at], self.created_days[at]


def build_catalog(plan: Plan) -> Catalog:
    # Shard by shard into compact columns, so only one shard's cores are ever
    # objects at a time.
    names: list[str] = []
    prices = array("q")
    days = array("l")
    popularity = array("d")
    for shard in plan.product_shards:
        for core in product_cores(plan, shard):
            if core.id != len(names) + 1:
                raise ValueError("product cores must have the ids 1..n in order")
            names.append(core.name)
            prices.append(core.price)
            days.append(core.created_day)
            popularity.append(core.popularity)
    order = array("l", sorted(range(len(names)), key=days.__getitem__))  # stable: ties by id
    cum = array("d", accumulate(popularity[i] for i in order))
    slots = min(len(cum), PICK_SLICES)
    guide = [bisect_right(cum, j * cum[-1] / slots) for j in range(slots)]
    position_of = array("l", bytes(8 * (len(names) + 1)))
    for at, i in enumerate(order):
        position_of[i + 1] = at
    return Catalog(
        order=array("l", (i + 1 for i in order)),
        created_days=array("l", (days[i] for i in order)),
        cum_popularity=cum,
        prices=array("q", (prices[i] for i in order)),
        names=[names[i] for i in order],
        bounds=list(zip(guide, [g + 1 for g in guide[1:]] + [len(cum)], strict=True)),
        position_of=position_of,
    )


@functools.lru_cache(maxsize=2)
def catalog_for(plan: Plan) -> Catalog:
    """The catalog of a plan, built once per process."""
    return build_catalog(plan)
