"""The DDL of every database target, derived from the table registry.

Dialects: sqlite, postgres, duckdb. SQLite and DuckDB get their keys in
CREATE TABLE (neither can add them later); PostgreSQL gets NOT NULL and the
CHECKs there, and its keys after the load (`add_keys`). Types, by kind:

    kind        sqlite             postgres          duckdb
    id          INTEGER            BIGINT            BIGINT
    int         INTEGER            INTEGER           INTEGER
    text        TEXT               TEXT              VARCHAR
    bool        INTEGER (0 or 1)   BOOLEAN           BOOLEAN
    date        TEXT               DATE              DATE
    timestamp   TEXT               TIMESTAMPTZ       TIMESTAMPTZ
    decimals    NUMERIC(p,s)       NUMERIC(p,s)      DECIMAL(p,s)
"""

from __future__ import annotations

from ..tables import (
    DECIMALS,
    REGISTRY,
    Between,
    Check,
    Column,
    Compare,
    Digits,
    Implies,
    Length,
    OneOf,
    Operand,
    Sql,
    Sum,
    Table,
)

DIALECTS = ("sqlite", "postgres", "duckdb")

TYPES: dict[str, dict[str, str]] = {
    "sqlite": {
        "id": "INTEGER",
        "int": "INTEGER",
        "text": "TEXT",
        "bool": "INTEGER",
        "date": "TEXT",
        "timestamp": "TEXT",
        "decimal": "NUMERIC",
    },
    "postgres": {
        "id": "BIGINT",
        "int": "INTEGER",
        "text": "TEXT",
        "bool": "BOOLEAN",
        "date": "DATE",
        "timestamp": "TIMESTAMPTZ",
        "decimal": "NUMERIC",
    },
    "duckdb": {
        "id": "BIGINT",
        "int": "INTEGER",
        "text": "VARCHAR",
        "bool": "BOOLEAN",
        "date": "DATE",
        "timestamp": "TIMESTAMPTZ",
        "decimal": "DECIMAL",
    },
}

#: Dialects whose CREATE TABLE holds the keys (PRIMARY KEY, UNIQUE, REFERENCES).
KEYS_INLINE = frozenset(("sqlite", "duckdb"))


def column_type(column: Column, dialect: str) -> str:
    """The column's SQL type in the dialect."""
    if column.kind in DECIMALS:
        return f"{TYPES[dialect]['decimal']}({column.precision},{column.scale})"
    return TYPES[dialect][column.kind]


def _operand(value: Operand) -> str:
    return str(value)  # a number, or a column's name


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def check_sql(check: Check, dialect: str) -> str:
    """A CHECK constraint's condition in the dialect."""
    match check:
        case OneOf(column, (value,)):
            return f"{column} = {_text(value)}"
        case OneOf(column, values):
            return f"{column} IN ({', '.join(map(_text, values))})"
        case Between(column, low, high):
            return f"{column} BETWEEN {_operand(low)} AND {_operand(high)}"
        case Compare(column, op, other):
            return f"{column} {op} {_operand(other)}"
        case Length(column, length):
            function = "char_length" if dialect == "postgres" else "length"
            return f"{function}({column}) = {length}"
        case Digits(column, length):
            if dialect == "sqlite":  # no regular expressions
                return f"length({column}) = {length} AND {column} NOT GLOB '*[^0-9]*'"
            if dialect == "postgres":
                return f"{column} ~ '^[0-9]{{{length}}}$'"
            return f"regexp_full_match({column}, '[0-9]{{{length}}}')"
        case Implies(flag, then):
            unless = f"{flag} = 0" if dialect == "sqlite" else f"NOT {flag}"
            return f"{unless} OR {check_sql(then, dialect)}"
        case Sum(column, parts) if dialect == "sqlite":
            # REAL money: compare in whole cents.
            return " = ".join(
                (f"round({column} * 100)", " + ".join(f"round({p} * 100)" for p in parts))
            )
        case Sum(column, parts):
            return f"{column} = {' + '.join(parts)}"
        case Sql(text):
            return text
    raise AssertionError(f"no rendering of {check!r}")


def _column_sql(column: Column, dialect: str) -> str:
    parts = [column.name, column_type(column, dialect)]
    keys = dialect in KEYS_INLINE
    if keys and column.key:
        parts.append("PRIMARY KEY")
    elif not column.nullable:
        parts.append("NOT NULL")
    if keys and column.unique:
        parts.append("UNIQUE")
    if keys and column.references:
        parts.append(f"REFERENCES {column.references} (id)")
    checks = [check_sql(c, dialect) for c in column.checks]
    if dialect == "sqlite" and column.kind == "bool":
        checks.insert(0, f"{column.name} IN (0, 1)")
    parts += (f"CHECK ({c})" for c in checks)
    return " ".join(parts)


def create_table(table: Table, dialect: str) -> str:
    """The CREATE TABLE statement of a table in the dialect."""
    lines = [_column_sql(column, dialect) for column in table.columns]
    lines += (f"CHECK ({check_sql(c, dialect)})" for c in table.checks)
    if dialect in KEYS_INLINE:
        lines += (f"UNIQUE ({', '.join(names)})" for names in table.unique)
    body = ",\n".join(f"    {line}" for line in lines)
    return f"CREATE TABLE {table.name} (\n{body}\n);\n"


def create_tables(dialect: str) -> str:
    """CREATE TABLE for every table of the contract, in dependency order."""
    return "".join(create_table(table, dialect) for table in REGISTRY.values())


def create_indexes() -> list[str]:
    """The statements that build the lookup indexes (the same in every dialect)."""
    return [
        f"CREATE INDEX {index.name} ON {table.name} ({', '.join(index.columns)})"
        for table in REGISTRY.values()
        for index in table.indexes
    ]


def add_keys() -> str:
    """PostgreSQL's PRIMARY KEYs, UNIQUE constraints, FOREIGN KEYs and indexes,
    added after the rows are in, as pg_dump does: checking a whole table's keys
    at once is much faster than checking each row's on COPY."""
    statements = []
    for table in REGISTRY.values():
        keys = [f"ADD PRIMARY KEY ({c.name})" for c in table.columns if c.key]
        keys += (f"ADD UNIQUE ({c.name})" for c in table.columns if c.unique)
        keys += (f"ADD UNIQUE ({', '.join(names)})" for names in table.unique)
        keys += (
            f"ADD FOREIGN KEY ({c.name}) REFERENCES {c.references} (id)"
            for c in table.columns
            if c.references
        )
        statements.append(f"ALTER TABLE {table.name} {', '.join(keys)};\n")
    return "".join(statements) + "".join(f"{index};\n" for index in create_indexes())


# -- PostgreSQL's keys, step by step (the parallel load builds them) ----------


def _unique_sets(table: Table) -> list[tuple[str, tuple[str, ...]]]:
    """A table's PRIMARY KEY and UNIQUE column sets, each with the name
    PostgreSQL would give its constraint: (name, columns)."""
    found: list[tuple[str, tuple[str, ...]]] = [
        (f"{table.name}_pkey", (c.name,)) for c in table.columns if c.key
    ]
    found += ((f"{table.name}_{c.name}_key", (c.name,)) for c in table.columns if c.unique)
    found += ((f"{table.name}_{'_'.join(names)}_key", names) for names in table.unique)
    return found


def key_indexes() -> list[tuple[str, str]]:
    """Every index of the PostgreSQL export as (table, CREATE INDEX statement):
    the unique ones its PRIMARY KEY and UNIQUE constraints are then made of
    (`key_constraints`), and the lookup indexes. Builds on different
    connections can run at once, even on one table."""
    statements = [
        (table.name, f"CREATE UNIQUE INDEX {name} ON {table.name} ({', '.join(names)})")
        for table in REGISTRY.values()
        for name, names in _unique_sets(table)
    ]
    statements += (
        (table.name, f"CREATE INDEX {index.name} ON {table.name} ({', '.join(index.columns)})")
        for table in REGISTRY.values()
        for index in table.indexes
    )
    return statements


def key_constraints() -> list[str]:
    """ALTER TABLE statements that make the `key_indexes` PRIMARY KEY and UNIQUE
    constraints (a catalog change: the indexes are built), and add the
    FOREIGN KEYs unchecked (NOT VALID); `validations` then checks them."""
    statements = []
    for table in REGISTRY.values():
        keys = [
            f"ADD CONSTRAINT {name} {'PRIMARY KEY' if name.endswith('_pkey') else 'UNIQUE'} "
            f"USING INDEX {name}"
            for name, _ in _unique_sets(table)
        ]
        keys += (
            f"ADD CONSTRAINT {table.name}_{c.name}_fkey FOREIGN KEY ({c.name}) "
            f"REFERENCES {c.references} (id) NOT VALID"
            for c in table.columns
            if c.references
        )
        statements.append(f"ALTER TABLE {table.name} {', '.join(keys)}")
    return statements


def validations() -> dict[str, list[str]]:
    """Per table, the statements that check its FOREIGN KEYs (added NOT VALID
    by `key_constraints`): one table's run one after another, different
    tables' at once."""
    return {
        table.name: [
            f"ALTER TABLE {table.name} VALIDATE CONSTRAINT {table.name}_{c.name}_fkey"
            for c in table.columns
            if c.references
        ]
        for table in REGISTRY.values()
    }
