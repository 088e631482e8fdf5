"""The links rules: each parent's link (first child, count) must describe the
children a shard holds, and no link may name a parent outside the plan."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from ..schema import ADDRESSES, INVOICES, LINE_ITEMS
from ..store import LINK, LINK_ARRAY, LINK_KEY, LINK_KEY_ARRAY, key
from .columns import WIDE, Ints
from .reader import ShardReader

LINKS_RULE = "links describe each parent's children"


class Spans:
    """First and last child ID per parent of a shard, and how many children it has.

    Parents are indexed from 0 within the shard. A parent's children have
    consecutive IDs exactly when last - first + 1 equals the count.
    """

    def __init__(self, parents: int) -> None:
        self.first = np.full(parents, np.iinfo(np.int64).max, np.int64)
        self.last = np.full(parents, np.iinfo(np.int64).min, np.int64)
        self.count = np.zeros(parents, np.int64)

    def head(self, parents: int) -> Spans:
        """The spans of the first `parents` parents only."""
        head = Spans(0)
        head.first, head.last = self.first[:parents], self.last[:parents]
        head.count = self.count[:parents]
        return head

    @property
    def parents(self) -> int:
        """How many parents have children."""
        return int(np.count_nonzero(self.count))

    def see(self, parents: Ints, children: Ints) -> None:
        """Children (IDs) of parents (positions in the shard), any order."""
        np.add.at(self.count, parents, 1)
        np.minimum.at(self.first, parents, children)
        np.maximum.at(self.last, parents, children)

    def matches(self, parents: Ints, first: Ints, count: Ints) -> NDArray[np.bool_]:
        """Per link: does (first child, count) describe the children seen?"""
        inside = (parents >= 0) & (parents < len(self.count))
        at = np.where(inside, parents, 0)
        matching: NDArray[np.bool_] = (
            inside
            & (self.count[at] > 0)
            & (self.first[at] == first)
            & (self.count[at] == count)
            & (self.last[at] - first + 1 == count)
        )
        return matching


def verify_links(reader: ShardReader, relations: Iterable[tuple[int, Spans, int, int]]) -> None:
    """Links (parent → first child, count) must describe the children found,
    or `children()` would return wrong rows. Per relation: its code, the
    children seen per parent, the first parent ID and how many parents."""
    found = reader.found
    for relation, span, first, parents in relations:
        code = bytes((relation,))
        linked = 0
        low, high = code + key(first), code + key(first + parents)
        for keys, values in reader.pairs("links", low, high, parents):
            linked += len(keys)
            parent, child, count = _link_columns(keys, values)
            found.add_where(
                "links", parent, ~span.matches(parent - first, child, count), LINKS_RULE,
                lambda _r, relation=relation: f"relation {relation}",  # type: ignore[misc]
            )  # fmt: skip
        if linked != span.parents:
            found.add("links", 0, LINKS_RULE, f"relation {relation} count")


def verify_unplanned_links(reader: ShardReader, counts: dict[str, int]) -> None:
    """Links whose parent lies in no shard's range: reported."""
    customers, invoices = counts["customers"], counts["invoices"]
    covered = [
        (bytes((relation,)) + key(1), bytes((relation,)) + key(parents + 1))
        for relation, parents in (
            (ADDRESSES, customers),
            (INVOICES, customers),
            (LINE_ITEMS, invoices),
        )
    ]
    for k, _ in reader.outside("links", covered):
        reader.found.add("links", int.from_bytes(k[1:], "big"), LINKS_RULE, f"relation {k[0]}")


def _link_columns(keys: list[bytes], values: list[bytes]) -> tuple[Ints, Ints, Ints]:
    """Parent, first child and child count of each link (0, 0 for a malformed value)."""
    if set(map(len, keys)) == {LINK_KEY.size} and set(map(len, values)) == {LINK.size}:
        parent = np.frombuffer(b"".join(keys), LINK_KEY_ARRAY)["parent"].astype(np.int64)
        pair = np.frombuffer(b"".join(values), LINK_ARRAY)
        return parent, pair["first"].astype(np.int64), pair["count"].astype(np.int64)
    # Malformed: any width, so clip what cannot be an ID (it then matches nothing).
    parent = np.array([min(int.from_bytes(k[1:], "big"), WIDE) for k in keys], np.int64)
    pairs = [LINK.unpack(v) if len(v) == LINK.size else (0, 0) for v in values]
    child = np.array([min(c, WIDE) for c, _ in pairs], np.int64)
    count = np.array([min(n, WIDE) for _, n in pairs], np.int64)
    return parent, child, count
