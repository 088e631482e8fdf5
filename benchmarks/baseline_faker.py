#!/usr/bin/env python3
"""Naive Faker baseline for the data generator benchmarks.

Builds an 8-table business dataset the way a typical hand-written Faker
script does: one Faker call per field per row, every row kept in memory as a
dict inside a list, and nothing written to disk.  The timing and peak memory
it reports are the reference numbers other tools are compared against.

Usage:
    python benchmarks/baseline_faker.py --volume large [--seed 42] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import threading
import time
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from importlib.metadata import PackageNotFoundError, version
from typing import Final

import psutil
from faker import Faker

Row = dict[str, object]
Dataset = dict[str, list[Row]]

# (customers, products, invoices); child tables scale from these.
VOLUMES: Final[dict[str, tuple[int, int, int]]] = {
    "small": (10, 50, 25),
    "medium": (100, 200, 500),
    "large": (1_000, 2_000, 10_000),
    "xl": (100_000, 200_000, 1_000_000),
}

TABLE_ORDER: Final[tuple[str, ...]] = (
    "customer_types",
    "product_categories",
    "customers",
    "customer_addresses",
    "products",
    "inventory",
    "invoices",
    "invoice_line_items",
)

CUSTOMER_TYPE_NAMES: Final[tuple[str, ...]] = ("Premium", "Standard", "Basic")

CATEGORY_NAMES: Final[tuple[str, ...]] = (
    "Electronics",
    "Office Supplies",
    "Software",
    "Furniture",
    "Networking",
    "Printing & Imaging",
    "Computer Accessories",
    "Breakroom & Janitorial",
    "Books & Training",
)

CUSTOMER_STATUSES: Final[tuple[str, ...]] = ("active", "inactive", "suspended")
ADDRESS_TYPES: Final[tuple[str, ...]] = ("billing", "shipping", "both")
INVOICE_STATUSES: Final[tuple[str, ...]] = (
    "draft",
    "sent",
    "paid",
    "overdue",
    "cancelled",
)
PAYMENT_TERMS_DAYS: Final[tuple[int, ...]] = (15, 30, 45, 60)
TAX_RATES: Final[tuple[Decimal, ...]] = (
    Decimal("0.0000"),
    Decimal("0.0625"),
    Decimal("0.0725"),
    Decimal("0.0825"),
)
LINE_DISCOUNTS: Final[tuple[Decimal, ...]] = (
    Decimal("0"),
    Decimal("0"),
    Decimal("0"),
    Decimal("5"),
    Decimal("10"),
    Decimal("15"),
)

CENT: Final[Decimal] = Decimal("0.01")
HUNDRED: Final[Decimal] = Decimal("100")
SAMPLE_INTERVAL_S: Final[float] = 0.05
MB: Final[float] = 1024.0 * 1024.0


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class PeakMemorySampler:
    """Polls this process's RSS and USS from a background thread.

    RSS alone over-counts shared library pages; USS is what the process would
    actually give back on exit, so both are tracked and compared.
    """

    def __init__(self, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self._interval_s = interval_s
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="peak-memory-sampler", daemon=True)
        self.peak_rss: int = 0
        self.peak_uss: int = 0

    def sample(self) -> None:
        info = self._process.memory_full_info()
        with self._lock:
            self.peak_rss = max(self.peak_rss, info.rss)
            self.peak_uss = max(self.peak_uss, info.uss)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.sample()

    def start(self) -> None:
        self.sample()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        # The thread may have slept through the final allocations; one last
        # reading while the dataset is still referenced closes that gap.
        self.sample()


def gen_customer_types(fake: Faker) -> list[Row]:
    rows: list[Row] = []
    for idx, name in enumerate(CUSTOMER_TYPE_NAMES, start=1):
        rows.append(
            {
                "id": idx,
                "name": name,
                "description": fake.sentence(nb_words=8),
                "credit_multiplier": fake.pydecimal(
                    left_digits=1,
                    right_digits=2,
                    positive=True,
                    min_value=0.5,
                    max_value=3,
                ),
                "discount_percentage": fake.pydecimal(
                    left_digits=2,
                    right_digits=2,
                    positive=True,
                    min_value=1,
                    max_value=20,
                ),
                "priority_level": idx,
                "payment_terms_days": fake.random_element(PAYMENT_TERMS_DAYS),
                "active": True,
                "created_at": fake.date_time_between(start_date="-5y", end_date="-3y"),
            }
        )
    return rows


def gen_product_categories(fake: Faker) -> list[Row]:
    rows: list[Row] = []
    for idx, name in enumerate(CATEGORY_NAMES, start=1):
        rows.append(
            {
                "id": idx,
                "name": name,
                "description": fake.sentence(nb_words=10),
                "sku_prefix": name[:3].upper(),
                "sort_order": idx * 10,
                "active": fake.boolean(chance_of_getting_true=95),
                "created_at": fake.date_time_between(start_date="-5y", end_date="-3y"),
            }
        )
    return rows


def gen_customers(fake: Faker, count: int, type_ids: list[object]) -> list[Row]:
    rows: list[Row] = []
    for idx in range(1, count + 1):
        created_at = fake.date_time_between(start_date="-3y", end_date="now")
        rows.append(
            {
                "id": idx,
                "customer_type_id": fake.random_element(type_ids),
                "name": fake.name(),
                "company_name": (
                    fake.company() if fake.boolean(chance_of_getting_true=40) else None
                ),
                "email": fake.email(),
                "phone": fake.phone_number(),
                "status": fake.random_element(CUSTOMER_STATUSES),
                "credit_limit": fake.pydecimal(
                    left_digits=6,
                    right_digits=2,
                    positive=True,
                    min_value=500,
                    max_value=100_000,
                ),
                "created_at": created_at,
                "updated_at": fake.date_time_between(start_date=created_at, end_date="now"),
            }
        )
    return rows


def gen_customer_addresses(fake: Faker, customers: list[Row]) -> list[Row]:
    rows: list[Row] = []
    next_id = 1
    for customer in customers:
        created_at = customer["created_at"]
        assert isinstance(created_at, datetime)
        for n in range(fake.random_int(min=1, max=3)):
            rows.append(
                {
                    "id": next_id,
                    "customer_id": customer["id"],
                    "address_type": fake.random_element(ADDRESS_TYPES),
                    "street_address": fake.street_address(),
                    "street2": (
                        fake.secondary_address()
                        if fake.boolean(chance_of_getting_true=30)
                        else None
                    ),
                    "city": fake.city(),
                    "state": fake.state_abbr(),
                    "zip_code": fake.zipcode(),
                    "county": fake.city() + " County",
                    "country": "US",
                    "is_primary": n == 0,
                    "created_at": fake.date_time_between(start_date=created_at, end_date="now"),
                }
            )
            next_id += 1
    return rows


def gen_products(fake: Faker, count: int, categories: list[Row]) -> list[Row]:
    rows: list[Row] = []
    for idx in range(1, count + 1):
        category = fake.random_element(categories)
        price = fake.pydecimal(
            left_digits=4,
            right_digits=2,
            positive=True,
            min_value=1,
            max_value=2_500,
        )
        created_at = fake.date_time_between(start_date="-3y", end_date="now")
        rows.append(
            {
                "id": idx,
                "product_category_id": category["id"],
                "name": fake.catch_phrase(),
                "sku": fake.bothify(f"{category['sku_prefix']}-####-??").upper(),
                "description": fake.sentence(nb_words=12),
                "price": price,
                "cost": money(
                    price
                    * fake.pydecimal(
                        left_digits=1,
                        right_digits=2,
                        positive=True,
                        min_value=0.4,
                        max_value=0.9,
                    )
                ),
                "weight": fake.pydecimal(
                    left_digits=3,
                    right_digits=2,
                    positive=True,
                    min_value=0.1,
                    max_value=150,
                ),
                "active": fake.boolean(chance_of_getting_true=90),
                "created_at": created_at,
                "updated_at": fake.date_time_between(start_date=created_at, end_date="now"),
            }
        )
    return rows


def gen_inventory(fake: Faker, products: list[Row]) -> list[Row]:
    rows: list[Row] = []
    for idx, product in enumerate(products, start=1):
        on_hand = fake.random_int(min=0, max=1_000)
        rows.append(
            {
                "id": idx,
                "product_id": product["id"],
                "warehouse_location": fake.city(),
                "quantity_on_hand": on_hand,
                "quantity_reserved": fake.random_int(min=0, max=on_hand),
                "reorder_point": fake.random_int(min=10, max=100),
                "reorder_quantity": fake.random_int(min=50, max=500),
                "last_received_date": fake.date_between(start_date="-180d", end_date="today"),
                "updated_at": fake.date_time_between(start_date="-30d", end_date="now"),
            }
        )
    return rows


def gen_invoices_and_lines(
    fake: Faker,
    count: int,
    customers: list[Row],
    addresses: list[Row],
    products: list[Row],
) -> tuple[list[Row], list[Row]]:
    # A billing address has to belong to the invoiced customer, so the naive
    # script still needs this lookup to keep foreign keys consistent.
    address_ids_by_customer: dict[object, list[object]] = {}
    for address in addresses:
        address_ids_by_customer.setdefault(address["customer_id"], []).append(address["id"])
    customer_ids = [customer["id"] for customer in customers]
    today = date.today()

    invoices: list[Row] = []
    lines: list[Row] = []
    next_line_id = 1
    for idx in range(1, count + 1):
        # Faker's random_element copies its argument on every call (O(n)): fine
        # for a handful of choices, but a script picking among 100,000 customers
        # would use the same generator's choice(), as here for every big list.
        customer_id = fake.random.choice(customer_ids)
        invoice_date = fake.date_between(start_date="-1y", end_date="today")
        terms_days = fake.random_element(PAYMENT_TERMS_DAYS)
        due_date = invoice_date + timedelta(days=terms_days)
        status = fake.random_element(INVOICE_STATUSES)
        paid_date = (
            fake.date_between_dates(invoice_date, min(due_date, today))
            if status == "paid"
            else None
        )

        subtotal = Decimal("0.00")
        for line_number in range(1, fake.random_int(min=1, max=4) + 1):
            product = fake.random.choice(products)
            unit_price = product["price"]
            assert isinstance(unit_price, Decimal)
            quantity = fake.random_int(min=1, max=25)
            discount = fake.random_element(LINE_DISCOUNTS)
            line_total = money(unit_price * quantity * (HUNDRED - discount) / HUNDRED)
            subtotal += line_total
            lines.append(
                {
                    "id": next_line_id,
                    "invoice_id": idx,
                    "line_number": line_number,
                    "product_id": product["id"],
                    "description": product["name"],
                    "quantity": quantity,
                    "unit_price": unit_price,
                    "discount_percentage": discount,
                    "line_total": line_total,
                }
            )
            next_line_id += 1

        tax_rate = fake.random_element(TAX_RATES)
        tax_amount = money(subtotal * tax_rate)
        invoices.append(
            {
                "id": idx,
                "customer_id": customer_id,
                "billing_address_id": fake.random.choice(address_ids_by_customer[customer_id]),
                "invoice_number": fake.bothify("INV-########"),
                "invoice_date": invoice_date,
                "due_date": due_date,
                "payment_terms": f"Net {terms_days}",
                "status": status,
                "paid_date": paid_date,
                "subtotal": subtotal,
                "tax_rate": tax_rate,
                "tax_amount": tax_amount,
                "total": subtotal + tax_amount,
                "created_at": datetime.combine(invoice_date, fake.time_object()),
            }
        )
    return invoices, lines


def generate(volume: str, seed: int) -> Dataset:
    n_customers, n_products, n_invoices = VOLUMES[volume]
    fake = Faker("en_US")
    # Seeding the instance rather than the class keeps runs reproducible
    # without leaking state into any other Faker user in the same process.
    fake.seed_instance(seed)

    customer_types = gen_customer_types(fake)
    categories = gen_product_categories(fake)
    type_ids = [row["id"] for row in customer_types]
    customers = gen_customers(fake, n_customers, type_ids)
    addresses = gen_customer_addresses(fake, customers)
    products = gen_products(fake, n_products, categories)
    inventory = gen_inventory(fake, products)
    invoices, lines = gen_invoices_and_lines(fake, n_invoices, customers, addresses, products)
    return {
        "customer_types": customer_types,
        "product_categories": categories,
        "customers": customers,
        "customer_addresses": addresses,
        "products": products,
        "inventory": inventory,
        "invoices": invoices,
        "invoice_line_items": lines,
    }


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def run(volume: str, seed: int) -> dict[str, object]:
    """Generate one dataset and return its timing, row counts and peak memory."""
    if volume not in VOLUMES:
        raise ValueError(f"unknown volume {volume!r}; choose from {list(VOLUMES)}")

    sampler = PeakMemorySampler()
    sampler.start()
    started = time.perf_counter()
    dataset = generate(volume, seed)
    seconds = time.perf_counter() - started
    sampler.stop()

    rows = {table: len(dataset[table]) for table in TABLE_ORDER}
    del dataset
    return {
        "tool": "faker-baseline",
        "volume": volume,
        "seed": seed,
        "seconds": round(seconds, 3),
        "rows": rows,
        "rows_total": sum(rows.values()),
        "peak_rss_mb": round(sampler.peak_rss / MB, 1),
        "peak_uss_mb": round(sampler.peak_uss / MB, 1),
        "versions": {
            "python": platform.python_version(),
            "faker": package_version("faker"),
            "psutil": package_version("psutil"),
        },
    }


def print_human(result: dict[str, object]) -> None:
    rows = result["rows"]
    assert isinstance(rows, dict)
    width = max(len(table) for table in rows)
    print(f"faker-baseline  volume={result['volume']}  seed={result['seed']}")
    print()
    print(f"{'table':<{width}}  {'rows':>10}")
    print(f"{'-' * width}  {'-' * 10}")
    for table, count in rows.items():
        print(f"{table:<{width}}  {count:>10,}")
    print(f"{'-' * width}  {'-' * 10}")
    print(f"{'total':<{width}}  {result['rows_total']:>10,}")
    print()
    seconds = result["seconds"]
    total = result["rows_total"]
    assert isinstance(seconds, float) and isinstance(total, int)
    rate = total / seconds if seconds > 0 else float("inf")
    print(f"seconds      {seconds:.3f}  ({rate:,.0f} rows/s)")
    print(f"peak RSS MB  {result['peak_rss_mb']}")
    print(f"peak USS MB  {result['peak_uss_mb']}")
    versions = result["versions"]
    assert isinstance(versions, dict)
    print("versions     " + ", ".join(f"{k} {v}" for k, v in versions.items()))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Naive Faker baseline: generate an 8-table dataset in memory."
    )
    parser.add_argument("--volume", choices=list(VOLUMES), default="small")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args.volume, args.seed)
    if args.json:
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
    else:
        print_human(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
