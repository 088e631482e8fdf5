"""The foundation task's rules: customer types, product categories, and every
row whose key lies outside the plan's ranges (counted, digested, reported)."""

from __future__ import annotations

import hashlib

from ..make.catalog_vocabulary import CATEGORIES
from ..plan import Plan
from ..schema import TABLES
from ..store import key
from .columns import DAY
from .links import verify_unplanned_links
from .reader import ShardReader


def verify_foundation(reader: ShardReader, plan: Plan) -> None:
    """Customer types, product categories, and every key outside the plan's ranges."""
    as_of_end = (plan.as_of_day + 1) * DAY  # timestamps must fall before the next day
    counts = plan.rows()
    _verify_customer_types(reader, counts["customer_types"], as_of_end)
    _verify_product_categories(reader, counts["product_categories"], as_of_end)
    _verify_unplanned_rows(reader, counts)
    verify_unplanned_links(reader, counts)


def _verify_customer_types(reader: ShardReader, count: int, as_of_end: int) -> None:
    add = reader.found.add
    names: set[str] = set()
    for t in reader.scan("customer_types", 1, count):
        if t.name in names:
            add("customer_types", t.id, "name is unique", t.name)
        names.add(t.name)
        if not 0 <= t.discount_percentage <= 50:
            add("customer_types", t.id, "discount_percentage in 0-50")
        if not 1 <= t.priority_level <= 5:
            add("customer_types", t.id, "priority_level in 1-5")
        if t.created_at >= as_of_end:
            add("customer_types", t.id, "nothing after as_of")


def _verify_product_categories(reader: ShardReader, count: int, as_of_end: int) -> None:
    add = reader.found.add
    known = {c.name for c in CATEGORIES}
    names: set[str] = set()
    prefixes: set[str] = set()
    for c in reader.scan("product_categories", 1, count):
        if c.name in names or c.sku_prefix in prefixes:
            add("product_categories", c.id, "name and sku_prefix are unique")
        names.add(c.name)
        prefixes.add(c.sku_prefix)
        if c.name not in known:
            add("product_categories", c.id, "category is known", c.name)
        if c.created_at >= as_of_end:
            add("product_categories", c.id, "nothing after as_of")
    for required in ("Electronics", "Office Supplies", "Software"):
        if required not in names:
            add("product_categories", 0, "required categories present", required)


def _verify_unplanned_rows(reader: ShardReader, counts: dict[str, int]) -> None:
    """Rows whose keys fall in no shard's range: counted, digested, reported."""
    for table in TABLES:
        digest = hashlib.blake2b(digest_size=16)
        for k, v in reader.outside(table, [(key(1), key(counts[table] + 1))]):
            digest.update(k)
            digest.update(v)
            reader.rows[table] += 1
            reader.found.add(table, int.from_bytes(k, "big"), "id within the plan's count")
        reader.digests.setdefault(table, []).append(digest.digest())
