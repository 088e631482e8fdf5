"""Product catalog vocabulary, read from data/catalog.json at start-up.

Categories (with their brands, adjectives, product nouns and each noun's cost
and weight ranges and features), the sentences that close a description, and
the warehouses. The file's "about" says why each list is as it is. Money is
in integer cents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import msgspec

CATALOG_FILE: Final = Path(__file__).parent.parent / "data" / "catalog.json"


class Noun(msgspec.Struct, frozen=True):
    noun: str
    cost_min: int
    cost_max: int
    weight_min: float
    weight_max: float
    features: tuple[str, ...]


class Category(msgspec.Struct, frozen=True):
    name: str
    description: str
    sku_prefix: str
    markup_min: int
    markup_max: int
    share: int
    brands: tuple[str, ...]
    adjectives: tuple[str, ...]
    nouns: tuple[Noun, ...]


class _CatalogFile(msgspec.Struct):
    categories: tuple[Category, ...]
    benefits: tuple[str, ...]
    warehouses: tuple[str, ...]


_CATALOG = msgspec.json.decode(CATALOG_FILE.read_bytes(), type=_CatalogFile)

CATEGORIES: Final[tuple[Category, ...]] = _CATALOG.categories
BENEFITS: Final[tuple[str, ...]] = _CATALOG.benefits
WAREHOUSES: Final[tuple[str, ...]] = _CATALOG.warehouses
