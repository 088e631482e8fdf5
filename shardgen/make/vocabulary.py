"""Vocabularies and weights: the data the generators sample from.

Kept apart from the code that samples, as Faker keeps its providers. Names,
streets and company forms come from Faker's en_US providers (frequency
weighted); geography from the ZIP dataset extracted by tools/build_geography.py.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Final, NamedTuple

import msgspec
import numpy as np
from numpy.typing import NDArray


class CustomerTypeSpec(NamedTuple):
    name: str
    description: str
    credit_multiplier: float
    discount_percentage: int
    priority_level: int
    payment_terms_days: int
    share: int  # of customers
    volume: float  # relative purchase frequency
    pay_on_time: float  # of invoices past their due date: paid by the due date
    pay_late: float  # ... paid after the due date (the rest: not yet paid)
    pay_early: float  # of invoices not yet due: already paid


CUSTOMER_TYPES: Final[tuple[CustomerTypeSpec, ...]] = (
    CustomerTypeSpec(
        "Premium", "High-value accounts with priority support and extended terms",
        2.0, 10, 5, 45, 20, 2.0, 0.80, 0.17, 0.25,
    ),
    CustomerTypeSpec(
        "Standard", "Established accounts on standard terms",
        1.0, 5, 3, 30, 50, 1.0, 0.70, 0.22, 0.15,
    ),
    CustomerTypeSpec(
        "Basic", "New or low-volume accounts on short terms",
        0.5, 0, 1, 15, 30, 0.6, 0.55, 0.30, 0.10,
    ),
)  # fmt: skip

#: Customer status shares, in percent.
STATUSES: Final[tuple[str, ...]] = ("active", "inactive", "suspended")
STATUS_SHARES: Final[tuple[int, ...]] = (75, 15, 10)

#: Percent of customers that are businesses (company_name set).
BUSINESS_SHARE: Final = 40

#: Credit limit before the type's multiplier, in dollars: log-uniform between.
CREDIT_BASE_MIN: Final = 5_000
CREDIT_BASE_MAX: Final = 50_000
CREDIT_LIMIT_MAX_CENTS: Final = 100_000 * 100

#: Invoice dates: share of invoices by age band (days before as_of, inclusive).
INVOICE_AGE_BANDS: Final[tuple[tuple[int, int, int], ...]] = (
    (0, 30, 40),
    (31, 90, 30),
    (91, 364, 30),
)
WEEKEND_WEIGHT: Final = 0.25
Q4_LIFT: Final = 1.3

#: Line quantities 1..10 and their weights.
QUANTITY_WEIGHTS: Final[tuple[int, ...]] = (34, 24, 14, 9, 6, 4, 3, 2, 2, 2)

#: 2020 census resident population, thousands: customers' states follow it.
STATE_POPULATION: Final[dict[str, int]] = {
    "CA": 39538, "TX": 29146, "FL": 21538, "NY": 20201, "PA": 13003, "IL": 12813,
    "OH": 11799, "GA": 10712, "NC": 10439, "MI": 10077, "NJ": 9289, "VA": 8631,
    "WA": 7705, "AZ": 7152, "MA": 7030, "TN": 6911, "IN": 6786, "MD": 6177,
    "MO": 6154, "WI": 5894, "CO": 5774, "MN": 5706, "SC": 5119, "AL": 5024,
    "LA": 4658, "KY": 4506, "OR": 4237, "OK": 3959, "CT": 3606, "UT": 3272,
    "IA": 3190, "NV": 3105, "AR": 3011, "MS": 2961, "KS": 2938, "NM": 2117,
    "NE": 1962, "ID": 1839, "WV": 1794, "HI": 1455, "NH": 1377, "ME": 1362,
    "RI": 1097, "MT": 1084, "DE": 990, "SD": 887, "ND": 779, "AK": 733,
    "DC": 690, "VT": 643, "WY": 577,
}  # fmt: skip

#: State-level sales tax rate in basis points (7.25 % = 725), as of 2025;
#: 0 in the states with no state sales tax.
STATE_TAX_BP: Final[dict[str, int]] = {
    "AL": 400, "AK": 0, "AZ": 560, "AR": 650, "CA": 725, "CO": 290, "CT": 635,
    "DE": 0, "DC": 600, "FL": 600, "GA": 400, "HI": 400, "ID": 600, "IL": 625,
    "IN": 700, "IA": 600, "KS": 650, "KY": 600, "LA": 500, "ME": 550, "MD": 600,
    "MA": 625, "MI": 600, "MN": 688, "MS": 700, "MO": 423, "MT": 0, "NE": 550,
    "NV": 685, "NH": 0, "NJ": 663, "NM": 488, "NY": 400, "NC": 475, "ND": 500,
    "OH": 575, "OK": 450, "OR": 0, "PA": 600, "RI": 700, "SC": 600, "SD": 420,
    "TN": 700, "TX": 625, "UT": 485, "VT": 600, "VA": 530, "WA": 650, "WV": 600,
    "WI": 500, "WY": 400,
}  # fmt: skip

#: Census regions (for reports).
CENSUS_REGIONS: Final[dict[str, tuple[str, ...]]] = {
    "Northeast": ("CT", "ME", "MA", "NH", "RI", "VT", "NJ", "NY", "PA"),
    "Midwest": ("IL", "IN", "MI", "OH", "WI", "IA", "KS", "MN", "MO", "NE", "ND", "SD"),
    "South": (
        "DE", "DC", "FL", "GA", "MD", "NC", "SC", "VA", "WV", "AL", "KY", "MS",
        "TN", "AR", "LA", "OK", "TX",
    ),
    "West": ("AZ", "CO", "ID", "MT", "NV", "NM", "UT", "WY", "AK", "CA", "HI", "OR", "WA"),
}  # fmt: skip

EMAIL_DOMAINS: Final[tuple[str, ...]] = ("example.com", "example.net", "example.org")


class Weighted(NamedTuple):
    """Values with their cumulative weights (added in order, as
    `itertools.accumulate` would), for a weighted draw by `searchsorted`."""

    values: tuple[str, ...]
    cum_weights: NDArray[np.float64]


def weighted(pairs: dict[str, float]) -> Weighted:
    return Weighted(tuple(pairs), np.cumsum(np.fromiter(pairs.values(), np.float64)))


class People(NamedTuple):
    first_names: Weighted
    last_names: Weighted
    street_suffixes: tuple[str, ...]
    company_suffixes: tuple[str, ...]


@functools.cache
def people() -> People:
    """Faker's en_US name frequencies, street suffixes and company suffixes."""
    from faker.providers.address.en_US import Provider as Address
    from faker.providers.company.en_US import Provider as Company
    from faker.providers.person.en_US import Provider as Person

    first = dict(Person.first_names_female)
    first.update(Person.first_names_male)
    return People(
        first_names=weighted(first),
        last_names=weighted(dict(Person.last_names)),
        street_suffixes=tuple(Address.street_suffixes),
        company_suffixes=tuple(Company.company_suffixes),
    )


#: Street-address ZIPs extracted from the pinned `zipcodes` dataset.
GEOGRAPHY_FILE: Final = Path(__file__).parent.parent / "data" / "geography.json"


class Place(NamedTuple):
    zip_code: str
    city: str
    county: str
    area_codes: tuple[str, ...]


class _GeographyFile(msgspec.Struct):
    states: dict[str, tuple[Place, ...]]  # rows [zip, city, county, [area codes]]


@functools.cache
def geography() -> dict[str, tuple[Place, ...]]:
    """Street-address ZIPs of the 50 states and DC, by state."""
    return msgspec.json.decode(GEOGRAPHY_FILE.read_bytes(), type=_GeographyFile).states


@functools.cache
def city_of() -> dict[tuple[str, str], str]:
    """(ZIP, state) → city, for checking addresses."""
    return {(p.zip_code, state): p.city for state, ps in geography().items() for p in ps}


def geography_source() -> dict[str, str]:
    source: dict[str, str] = json.loads(GEOGRAPHY_FILE.read_bytes())["source"]
    return source
