"""A product shard's rules: its products and their inventory rows (same IDs).
The shard's part carries its products' creation days for the customer shards."""

from __future__ import annotations

import contextlib
from array import array

import msgspec

from ..make.catalog_vocabulary import CATEGORIES
from ..plan import GrownPlan, Plan, ProductShard
from ..schema import DECODERS, Stock
from ..store import key
from .columns import DAY
from .reader import ShardReader


def _category_rules(reader: ShardReader) -> dict[int, tuple[int, int, str]]:
    """Category id → (minimum markup, maximum markup, SKU prefix), as stored."""
    margin_of = {c.name: (c.markup_min, c.markup_max) for c in CATEGORIES}
    decode = DECODERS["product_categories"].decode
    rules = {}
    for _, values in reader.pairs("product_categories", b"", b"\xff" * 9):
        for value in values:
            with contextlib.suppress(msgspec.DecodeError):
                c = decode(value)
                low, high = margin_of.get(c.name, (0, 10**9))
                rules[c.id] = (low, high, c.sku_prefix)
    return rules


def verify_products(reader: ShardReader, plan: Plan, shard: ProductShard) -> None:
    """A product shard: its products and their inventory rows (same IDs)."""
    add = reader.found.add
    as_of = plan.as_of_day
    as_of_end = (as_of + 1) * DAY
    categories = _category_rules(reader)
    first, n = shard.product_first, shard.products
    product_day = array("i", bytes(4 * n))
    on_hand: dict[int, int] = {}
    inventory_rows = array("b", bytes(n))
    for p in reader.scan("products", first, n):
        pid = p.id
        if not 0 <= pid - first < n:
            continue  # its key and id differ: reported by the scan
        rules = categories.get(p.product_category_id)
        if rules is None:
            add("products", pid, "product_category_id → product_categories")
            continue
        low, high, prefix = rules
        # A SKU ending with its own product's ID is unique because IDs are.
        if not p.sku.endswith(f"-{pid:06d}"):
            add("products", pid, "sku is unique", f"{p.sku} is not derived from id {pid}")
        if not p.sku.startswith(prefix):
            add("products", pid, "sku starts with the category prefix", p.sku)
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
        product_day[pid - first] = p.created_at // DAY or 1

    for i in reader.scan("inventory", first, n):
        pid = i.product_id
        j = pid - first
        if not 0 <= j < n or product_day[j] == 0:
            reader.orphan("inventory", i.id, "product_id → products", pid, first, n)
            continue
        inventory_rows[j] = min(inventory_rows[j] + 1, 100)
        on_hand[pid] = i.quantity_on_hand
        if not 0 <= i.reserved_quantity <= i.quantity_on_hand:
            add("inventory", i.id, "0 <= reserved_quantity <= quantity_on_hand")
        if not product_day[j] <= i.last_received_date <= as_of:
            add("inventory", i.id, "last_received_date between product creation and as_of")
        if i.updated_at >= as_of_end:
            add("inventory", i.id, "nothing after as_of")
        if i.reorder_point < 0 or i.reorder_quantity < 0 or i.last_received_quantity < 0:
            add("inventory", i.id, "quantities >= 0")
    if isinstance(plan, GrownPlan):
        _ledger(reader, first, n, on_hand)
    for j in range(n):
        if product_day[j] and inventory_rows[j] != 1:
            add("products", first + j, "exactly one inventory row", str(inventory_rows[j]))
    reader.days = product_day.tobytes()


def _ledger(reader: ShardReader, first: int, n: int, on_hand: dict[int, int]) -> None:
    """Per product of an advanced store: the units its stock ledger says have
    left since it opened (opening + received − on hand), for the merge to
    compare with the units the days' line items sold."""
    decode = msgspec.msgpack.Decoder(Stock).decode
    seen = 0
    for keys, values in reader.pairs("stock", key(first), key(first + n), n):
        for k, v in zip(keys, values, strict=True):
            product_id = int.from_bytes(k, "big")
            seen += 1
            try:
                stock = decode(v)
            except msgspec.DecodeError:
                reader.found.add("inventory", product_id, "the inventory ledger balances")
                continue
            if product_id in on_hand:
                reader.ledger[product_id] = stock.opening + stock.received - on_hand[product_id]
    if seen != n:
        reader.found.add("inventory", first, "the inventory ledger balances", "missing entries")
