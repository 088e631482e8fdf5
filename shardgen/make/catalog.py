"""The run's catalog: what a customer shard needs of every product.

Prices, popularity, creation days and names, as columns by product ID − 1 in
one buffer: a file the local workers map read-only, filled by the product
shards as they are generated, or a bytearray built in process.
"""

from __future__ import annotations

import functools
import mmap
import os
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from ..guard import create
from ..plan import Plan
from .products import ProductCore, product_cores

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]

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
    encoded = [core.name.encode() for core in cores]
    lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
    if (lengths >= NAME_BYTES).any():
        name = cores[int(np.argmax(lengths))].name
        raise ValueError(f"product name longer than {NAME_BYTES - 1} bytes: {name}")
    # A length byte, then the UTF-8 bytes padded with zeros.
    names = np.zeros((len(encoded), NAME_BYTES), np.uint8)
    names[:, 0] = lengths
    names[:, 1:] = np.array(encoded, f"S{NAME_BYTES - 1}").view(np.uint8).reshape(len(encoded), -1)
    return CatalogChunk(
        cores[0].id,
        {
            "prices": array("q", [c.price for c in cores]).tobytes(),
            "popularity": array("d", [c.popularity for c in cores]).tobytes(),
            "created_days": array("i", [c.created_day for c in cores]).tobytes(),
            "names": names.tobytes(),
        },
    )


Write = Callable[[int, bytes], object]


def place_chunk(layout: CatalogLayout, chunk: CatalogChunk, write: Write) -> None:
    """Write a chunk's columns where the layout puts them: `write(offset, data)`."""
    for name, data in chunk.columns.items():
        offset, width = layout.column(name)
        write(offset + (chunk.first_id - 1) * width, data)


#: Products whose running totals are computed and written at a time.
FINISH_CHUNK = 65_536


def finish_catalog(layout: CatalogLayout, buffer: memoryview, write: Write) -> None:
    """Fill in the running total of popularity, once every chunk is placed.

    A chunk at a time, carrying the total over, so the memory it takes does
    not grow with the catalog; the sums are added in order, as one pass would.
    """
    offset, _ = layout.column("popularity")
    target, _ = layout.column("cum_popularity")
    popularity = np.frombuffer(buffer, np.float64, layout.products, offset)
    total = np.zeros(1)
    for start in range(0, layout.products, FINISH_CHUNK):
        chunk = np.concatenate((total, popularity[start : start + FINISH_CHUNK]))
        running = np.add.accumulate(chunk)[1:]
        write(target + 8 * start, running.tobytes())
        total = running[-1:]


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

        def column(name: str, dtype: type[np.generic]) -> NDArray[Any]:
            offset, width = layout.column(name)
            count = width * products // np.dtype(dtype).itemsize
            return np.frombuffer(buffer, dtype, count, offset)

        self.prices: NDArray[np.int64] = column("prices", np.int64)
        self.cum_popularity: NDArray[np.float64] = column("cum_popularity", np.float64)
        self.created_days: NDArray[np.int32] = column("created_days", np.int32)
        #: A length byte, then up to NAME_BYTES - 1 bytes of UTF-8, zero-padded.
        self.name_slots = column("names", np.uint8).reshape(products, NAME_BYTES)

    def sellable(self, day: int) -> int:
        """How many products (a prefix of the IDs) exist on `day`."""
        return int(self.sellable_on(np.array([day], np.int64))[0])

    def sellable_on(self, days: Ints) -> Ints:
        """`sellable` of many days at once."""
        # In the catalog's own type: a mixed-type search would copy the whole column.
        at = np.searchsorted(self.created_days, days.astype(np.int32), side="right")
        counts: Ints = at.astype(np.int64)
        return counts

    def picks(self, u: Floats, sellable: Ints) -> Ints:
        """Positions (product ID − 1) picked by popularity, each among the first
        `sellable` products (at least 1); u in [0, 1)."""
        cum = self.cum_popularity
        at = np.searchsorted(cum, u * cum[sellable - 1], side="right")
        chosen: Ints = np.minimum(at, sellable - 1)
        return chosen

    def pick(self, u: float, sellable: int) -> int:
        """A product ID, by popularity, among the first `sellable`; u in [0, 1)."""
        return int(self.picks(np.array([u]), np.array([sellable]))[0]) + 1

    def names_at(self, positions: NDArray[np.int64]) -> list[str]:
        """The names at many positions at once: slots are zero-padded, and a
        bytes array drops the padding."""
        raw = np.ascontiguousarray(self.name_slots[positions, 1:]).view(f"S{NAME_BYTES - 1}")
        return list(map(bytes.decode, raw.ravel().tolist()))

    def product(self, product_id: int) -> tuple[int, str, int]:
        """(price, name, created_day) of a product."""
        at = product_id - 1
        name = self.names_at(np.array([at], np.int64))[0]
        return int(self.prices[at]), name, int(self.created_days[at])


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
        """A new file of the catalog's size: never an existing one, never through a link."""
        self.remove()
        with open(create(self.path), "wb") as file:
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
