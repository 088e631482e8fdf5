"""Products and inventory: pure generators, and the catalog customer shards sell from.

A product's core (category, name, cost, price, creation day, popularity) is
drawn from its own seed stream, so any process can rebuild the whole catalog
from the plan without talking to the process that writes the products. The
product shard adds the rest (description, weight, inventory) from another
stream.
"""

from __future__ import annotations

import functools
import random
from bisect import bisect_right
from itertools import accumulate
from typing import NamedTuple

from .catalog_vocab import BENEFITS, CATEGORIES, WAREHOUSES
from .plan import Plan, ProductShard, derive_seed, quota
from .schema import Inventory, Product, ProductCategory

DAY = 86_400
#: Share of products (percent) launched inside the 12-month invoice window.
NEW_PRODUCT_SHARE = 15
#: Older products were launched up to this many days before the window.
CATALOG_AGE_DAYS = 6 * 365
#: Percent of products still active.
ACTIVE_PRODUCT_SHARE = 95
WAREHOUSE_WEIGHTS = (30, 25, 20, 15, 10, 10)
#: Spread of popularity (sigma of a log-normal): a few best sellers.
POPULARITY_SIGMA = 1.3


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


def price_for(cost: int, markup_min: int, markup_max: int, rng: random.Random) -> int:
    """A price whose markup over cost lies in [min, max] percent, exactly.

    Prefers a price ending in .99 when one lies in the range.
    """
    low = cost + -(-cost * markup_min // 100)
    high = cost + cost * markup_max // 100
    price = rng.randint(low, high)
    nice = price // 100 * 100 + 99
    if low <= nice <= high:
        return nice
    if low <= nice - 100 <= high:
        return nice - 100
    return price


def product_cores(plan: Plan, shard: ProductShard) -> list[ProductCore]:
    rng = random.Random(derive_seed(plan.seed, "product-core", shard.index))
    n = shard.products
    categories = _expand(quota(n, [c.share for c in CATEGORIES]))
    rng.shuffle(categories)
    is_new = _expand(quota(n, [100 - NEW_PRODUCT_SHARE, NEW_PRODUCT_SHARE]))
    rng.shuffle(is_new)
    if shard.index == 0 and is_new[0]:
        # Product 1 predates every invoice, so every invoice date has a
        # product to sell whatever the counts (the quota always holds an
        # older product).
        j = is_new.index(0)
        is_new[0], is_new[j] = 0, 1
    window_start = plan.as_of_day - 364
    cores = []
    for i in range(n):
        category = CATEGORIES[categories[i]]
        noun_index = rng.randrange(len(category.nouns))
        noun = category.nouns[noun_index]
        name = f"{rng.choice(category.brands)} {rng.choice(category.adjectives)} {noun.noun}"
        if rng.random() < 0.6:
            name += f" {rng.choice('ACEGKMRSTVXZ')}{rng.randint(1, 99) * 10}"
        cost = rng.randint(noun.cost_min, noun.cost_max)
        price = price_for(cost, category.markup_min, category.markup_max, rng)
        if is_new[i]:
            created = window_start + rng.randint(0, 364)
        else:
            created = window_start - 1 - rng.randint(0, CATALOG_AGE_DAYS)
        popularity = rng.lognormvariate(0.0, POPULARITY_SIGMA)
        cores.append(
            ProductCore(
                shard.product_first + i,
                categories[i],
                noun_index,
                name,
                cost,
                price,
                created,
                popularity,
            )
        )
    return cores


def product_shard(plan: Plan, shard: ProductShard) -> tuple[list[Product], list[Inventory]]:
    """The products of one shard and their inventory rows."""
    rng = random.Random(derive_seed(plan.seed, "products", shard.index))
    as_of = plan.as_of_day
    inactive = _expand(quota(shard.products, [ACTIVE_PRODUCT_SHARE, 100 - ACTIVE_PRODUCT_SHARE]))
    rng.shuffle(inactive)
    warehouse_cum = list(accumulate(WAREHOUSE_WEIGHTS[: len(WAREHOUSES)]))
    products: list[Product] = []
    inventory: list[Inventory] = []
    for i, core in enumerate(product_cores(plan, shard)):
        category = CATEGORIES[core.category]
        noun = category.nouns[core.noun]
        first, second = rng.sample(noun.features, 2)
        description = f"{noun.noun} with {first} and {second}. {rng.choice(BENEFITS)}"
        weight = round(rng.uniform(noun.weight_min, noun.weight_max), 2)
        created_at = core.created_day * DAY + rng.randint(8 * 3600, 18 * 3600)
        updated_day = rng.randint(core.created_day, as_of)
        updated_at = max(created_at, updated_day * DAY + rng.randint(8 * 3600, 18 * 3600))
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
        reorder_quantity = max(10, round(reorder_point * rng.uniform(1.5, 3.0) / 10) * 10)
        on_hand = rng.randint(reorder_point // 2, reorder_point + reorder_quantity)
        reserved = rng.randint(0, on_hand // 4)
        recent = max(core.created_day, as_of - max(7, round(120 / (1 + core.popularity))))
        received = rng.randint(recent, as_of)
        warehouse = rng.choices(WAREHOUSES, cum_weights=warehouse_cum)[0]
        inventory.append(
            Inventory(
                core.id, core.id, warehouse, on_hand, reserved, reorder_point,
                reorder_quantity, received, reorder_quantity,
                max(received * DAY + rng.randint(8 * 3600, 18 * 3600), created_at),
            )
        )  # fmt: skip
    return products, inventory


class Catalog(NamedTuple):
    """What a customer shard needs of every product, in launch order."""

    order: tuple[int, ...]  # product IDs sorted by (created_day, id)
    created_days: tuple[int, ...]  # aligned with order
    cum_popularity: tuple[float, ...]  # aligned with order
    price: dict[int, int]
    name: dict[int, str]
    created_day: dict[int, int]

    def sellable(self, day: int) -> int:
        """How many products (a prefix of `order`) exist on `day`."""
        return bisect_right(self.created_days, day)

    def pick(self, rng: random.Random, sellable: int) -> int:
        """A product ID, by popularity, among the first `sellable`."""
        r = rng.random() * self.cum_popularity[sellable - 1]
        return self.order[min(bisect_right(self.cum_popularity, r, 0, sellable), sellable - 1)]


def build_catalog(plan: Plan) -> Catalog:
    cores = [core for shard in plan.product_shards for core in product_cores(plan, shard)]
    cores.sort(key=lambda c: (c.created_day, c.id))
    return Catalog(
        order=tuple(c.id for c in cores),
        created_days=tuple(c.created_day for c in cores),
        cum_popularity=tuple(accumulate(c.popularity for c in cores)),
        price={c.id: c.price for c in cores},
        name={c.id: c.name for c in cores},
        created_day={c.id: c.created_day for c in cores},
    )


@functools.lru_cache(maxsize=2)
def catalog_for(plan: Plan) -> Catalog:
    """The catalog of a plan, built once per process."""
    return build_catalog(plan)


def _expand(counts: list[int]) -> list[int]:
    """[2, 1] → [0, 0, 1]: a quota as a list of category indices."""
    return [i for i, n in enumerate(counts) for _ in range(n)]
