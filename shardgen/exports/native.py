"""The exports' C decoder (`_columns.c`): a part's records, as the store holds
them, read straight into Arrow buffers (`decode`, for Parquet and DuckDB) or
into PostgreSQL's binary COPY data (`copy_binary`), with no Python object per
value. It is built when shardgen is installed where a C compiler is; where it
was not, `decoder` is None and the exports decode the records into Python
values instead, to the same result, at 4 to 40 times the CPU time."""

from __future__ import annotations

import importlib
from types import ModuleType

from .contract import CONTRACT

#: The letter the decoder takes for each kind of the contract (its functions
#: each write a kind as their target holds it; money and basis points alike).
KINDS = {
    "id": "k", "int": "i", "text": "s", "bool": "b", "date": "d", "timestamp": "t",
    "money": "m", "basis_points": "m", "percent": "p", "decimal": "x",
}  # fmt: skip
#: Each table's columns as those letters.
TABLE_KINDS = {table: "".join(KINDS[c.kind] for c in cols) for table, cols in CONTRACT.items()}


def _load() -> ModuleType | None:
    try:
        return importlib.import_module("shardgen.exports._columns")
    except ImportError:  # pragma: no cover - installed without a C compiler
        return None


decoder = _load()
