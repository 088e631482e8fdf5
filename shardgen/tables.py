"""The table registry: the one description of the data contract's eight tables.

Each table is described here once: its record (`schema.TABLES`), and for each
column its name, its kind of value, NULL or NOT NULL, and its PRIMARY KEY,
FOREIGN KEY, UNIQUE and CHECK constraints; then the table's own constraints,
its lookup indexes and the store's parent link (`schema.RELATIONS`). Every
database's DDL (`exports.ddl`), the export contract and CSV headers
(`exports.contract`) and the Arrow schema (`exports.files`) are derived from it.

Kinds: id (an ID or a foreign key), int, text, bool, date, timestamp, money
(integer cents), basis_points (hundredths of a percent: tax_rate), percent (a
whole percent: discount_percentage) and decimal (a float kept to two decimals:
credit_multiplier, weight). The four decimal kinds are exported as exact
decimals of `SCALE` digits after the point and the column's `precision` in all.

CHECK constraints are small objects that `exports.ddl` renders in each
dialect; `Sql` holds an expression that every dialect writes the same way.
"""

from __future__ import annotations

from typing import Any, NamedTuple, get_args

import msgspec

from .schema import RELATIONS, TABLES

KINDS = frozenset(
    (
        "id",
        "int",
        "text",
        "bool",
        "date",
        "timestamp",
        "money",
        "basis_points",
        "percent",
        "decimal",
    )
)
#: Digits after the point of every decimal kind, and the precision of those
#: whose precision is the kind's (a `decimal` column gives its own).
SCALE = 2
PRECISION = {"money": 12, "basis_points": 5, "percent": 5}
DECIMALS = frozenset((*PRECISION, "decimal"))

#: A bound in a constraint: a number, or the name of another column of the row.
Operand = int | str


class OneOf(NamedTuple):
    """The column holds one of these texts (`= value` when there is one)."""

    column: str
    values: tuple[str, ...]


class Between(NamedTuple):
    """low <= column <= high."""

    column: str
    low: Operand
    high: Operand


class Compare(NamedTuple):
    """column `op` other, op being one of = > >= < <=."""

    column: str
    op: str
    other: Operand


class Length(NamedTuple):
    """The text is exactly `length` characters long."""

    column: str
    length: int


class Digits(NamedTuple):
    """The text is exactly `length` digits 0-9."""

    column: str
    length: int


class Implies(NamedTuple):
    """Where the boolean column `flag` is true, `then` holds."""

    flag: str
    then: Check


class Sum(NamedTuple):
    """Money: the column is the sum of `parts`, to the cent."""

    column: str
    parts: tuple[str, ...]


class Sql(NamedTuple):
    """A condition written the same way in every dialect."""

    text: str


Check = OneOf | Between | Compare | Length | Digits | Implies | Sum | Sql


class Column(NamedTuple):
    """A column of the contract: its value and its constraints."""

    name: str
    kind: str
    nullable: bool = False
    key: bool = False  # the PRIMARY KEY
    unique: bool = False
    references: str | None = None  # FOREIGN KEY to that table's id
    checks: tuple[Check, ...] = ()
    precision: int = 0  # digits in all, for the decimal kinds

    @property
    def scale(self) -> int:
        """Digits after the point: SCALE for the decimal kinds, else 0."""
        return SCALE if self.kind in DECIMALS else 0


class Index(NamedTuple):
    """A lookup index, built after the load."""

    name: str
    columns: tuple[str, ...]


class Link(NamedTuple):
    """The store's parent → children link of a table (`schema.RELATIONS`):
    children of one parent have consecutive IDs."""

    relation: str
    code: int
    parent: str
    column: str  # the child's foreign key to the parent


class Table(NamedTuple):
    """A table of the contract: its record, its columns in order, its own
    constraints and indexes, and its parent link if it has one."""

    name: str
    record: type[Any]
    columns: tuple[Column, ...]
    checks: tuple[Check, ...] = ()  # over several columns
    unique: tuple[tuple[str, ...], ...] = ()  # UNIQUE over several columns
    indexes: tuple[Index, ...] = ()
    link: Link | None = None


def _link(table: str, columns: tuple[Column, ...]) -> Link | None:
    """The link whose child is `table`, with the column naming the parent."""
    for relation, (code, parent, child) in RELATIONS.items():
        if child == table:
            (column,) = (c.name for c in columns if c.references == parent)
            return Link(relation, code, parent, column)
    return None


def table(
    name: str,
    *columns: Column,
    checks: tuple[Check, ...] = (),
    unique: tuple[tuple[str, ...], ...] = (),
    indexes: tuple[Index, ...] = (),
) -> Table:
    """A table of the registry: its record is `schema.TABLES[name]`, whose
    fields the columns must be, in order, NULL exactly where the field may be
    None; decimal kinds take their kind's precision."""
    record = TABLES[name]
    fields = [(f.name, type(None) in get_args(f.type)) for f in msgspec.structs.fields(record)]
    if fields != [(c.name, c.nullable) for c in columns]:
        raise AssertionError(f"{name}: the columns are not the fields of {record.__name__}")
    if any(c.kind not in KINDS or (c.references or name) not in TABLES for c in columns):
        raise AssertionError(f"{name}: an unknown kind or table")
    columns = tuple(
        c._replace(precision=PRECISION[c.kind]) if c.kind in PRECISION else c for c in columns
    )
    return Table(name, record, columns, checks, unique, indexes, _link(name, columns))


ID = Column("id", "id", key=True)
ACTIVE = Column("active", "bool")
CREATED_AT = Column("created_at", "timestamp")
UPDATED_AT = Column("updated_at", "timestamp", checks=(Compare("updated_at", ">=", "created_at"),))


def _at_least(column: str, kind: str, low: int) -> Column:
    return Column(column, kind, checks=(Compare(column, ">=", low),))


#: The data contract, in dependency order: a table comes after those it references.
REGISTRY: dict[str, Table] = {
    t.name: t
    for t in (
        table(
            "customer_types",
            ID,
            Column("name", "text", unique=True,
                   checks=(OneOf("name", ("Premium", "Standard", "Basic")),)),
            Column("description", "text"),
            Column("credit_multiplier", "decimal", precision=4,
                   checks=(Compare("credit_multiplier", ">", 0),)),
            Column("discount_percentage", "percent",
                   checks=(Between("discount_percentage", 0, 50),)),
            Column("priority_level", "int", checks=(Between("priority_level", 1, 5),)),
            _at_least("payment_terms_days", "int", 0),
            ACTIVE,
            CREATED_AT,
        ),
        table(
            "product_categories",
            ID,
            Column("name", "text", unique=True),
            Column("description", "text"),
            Column("sku_prefix", "text", unique=True),
            Column("sort_order", "int"),
            ACTIVE,
            CREATED_AT,
        ),
        table(
            "customers",
            ID,
            Column("customer_type_id", "id", references="customer_types"),
            Column("name", "text"),
            Column("company_name", "text", nullable=True),
            Column("email", "text", unique=True),
            Column("phone", "text"),
            Column("status", "text",
                   checks=(OneOf("status", ("active", "inactive", "suspended")),)),
            Column("credit_limit", "money", checks=(Between("credit_limit", 0, 100_000),)),
            CREATED_AT,
            UPDATED_AT,
        ),
        table(
            "customer_addresses",
            ID,
            Column("customer_id", "id", references="customers"),
            Column("address_type", "text",
                   checks=(OneOf("address_type", ("billing", "shipping")),)),
            Column("street_address", "text"),
            Column("street2", "text", nullable=True),
            Column("city", "text"),
            Column("state", "text", checks=(Length("state", 2),)),
            Column("zip_code", "text", checks=(Digits("zip_code", 5),)),
            Column("county", "text"),
            Column("country", "text", checks=(OneOf("country", ("US",)),)),
            Column("is_primary", "bool"),
            CREATED_AT,
            checks=(Implies("is_primary", OneOf("address_type", ("billing",))),),
            indexes=(Index("customer_addresses_customer", ("customer_id",)),),
        ),
        table(
            "products",
            ID,
            Column("product_category_id", "id", references="product_categories"),
            Column("name", "text"),
            Column("sku", "text", unique=True),
            Column("description", "text"),
            Column("price", "money"),
            Column("cost", "money", checks=(Compare("cost", ">", 0),)),
            Column("weight", "decimal", precision=8, checks=(Compare("weight", ">=", 0),)),
            ACTIVE,
            CREATED_AT,
            UPDATED_AT,
            checks=(Compare("price", ">", "cost"),),
        ),
        table(
            "inventory",
            ID,
            Column("product_id", "id", unique=True, references="products"),
            Column("warehouse", "text"),
            _at_least("quantity_on_hand", "int", 0),
            Column("reserved_quantity", "int",
                   checks=(Between("reserved_quantity", 0, "quantity_on_hand"),)),
            _at_least("reorder_point", "int", 0),
            _at_least("reorder_quantity", "int", 0),
            Column("last_received_date", "date"),
            _at_least("last_received_quantity", "int", 0),
            Column("updated_at", "timestamp"),
        ),
        table(
            "invoices",
            ID,
            Column("customer_id", "id", references="customers"),
            Column("billing_address_id", "id", references="customer_addresses"),
            Column("invoice_number", "text", unique=True),
            Column("invoice_date", "date"),
            Column("due_date", "date", checks=(Compare("due_date", ">=", "invoice_date"),)),
            Column("payment_terms", "text"),
            Column("status", "text", checks=(OneOf("status", ("pending", "paid", "overdue")),)),
            Column("paid_date", "date", nullable=True,
                   checks=(Sql("paid_date IS NULL OR paid_date >= invoice_date"),)),
            _at_least("subtotal", "money", 0),
            Column("tax_rate", "basis_points", checks=(Between("tax_rate", 0, 100),)),
            _at_least("tax_amount", "money", 0),
            Column("total", "money"),
            CREATED_AT,
            checks=(
                Sql("(status = 'paid') = (paid_date IS NOT NULL)"),
                Sum("total", ("subtotal", "tax_amount")),
            ),
            indexes=(
                Index("invoices_customer", ("customer_id",)),
                Index("invoices_date", ("invoice_date",)),
            ),
        ),
        table(
            "invoice_line_items",
            ID,
            Column("invoice_id", "id", references="invoices"),
            _at_least("line_number", "int", 1),
            Column("product_id", "id", references="products"),
            Column("description", "text"),
            _at_least("quantity", "int", 1),
            _at_least("unit_price", "money", 0),
            Column("discount_percentage", "percent",
                   checks=(Between("discount_percentage", 0, 100),)),
            _at_least("line_total", "money", 0),
            unique=(("invoice_id", "line_number"),),
            indexes=(Index("invoice_line_items_product", ("product_id",)),),
        ),
    )
}  # fmt: skip

if list(REGISTRY) != list(TABLES):
    raise AssertionError("the registry describes the tables of schema.TABLES, in that order")
