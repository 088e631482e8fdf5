"""The merge of the tasks' parts, in task order, into the report, with the
checks that span shards: row counts, one tax rate per state, the digests."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence

from ..plan import GrownPlan, Plan
from ..schema import TABLES
from .reader import Part
from .report import Findings, Report

PROMOTED_RULE = "the data digests as it did when it was promoted"


class Merged:
    """The parts merged in task order, then the checks that span shards."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.found = Findings()
        self.rows: Counter[str] = Counter()
        self.digests: dict[str, list[bytes]] = {table: [] for table in TABLES}
        self.state_rate: dict[str, int] = {}
        #: Each product's creation day (at least 1; 0 where absent), int32 by product ID.
        self.product_days = bytearray(4 * (plan.products + 1))
        self.sold: Counter[int] = Counter()
        self.ledger: dict[int, int] = {}

    def add(self, part: Part) -> None:
        if part.days:
            first = 4 * self.plan.product_shards[part.task.shard].product_first
            self.product_days[first : first + len(part.days)] = part.days
        self.found.merge(part.found)
        self.rows.update(part.rows)
        self.sold.update(part.sold)
        self.ledger.update(part.ledger)
        for table, digests in part.digests.items():
            self.digests[table].extend(digests)
        for state, (rate, invoice_id) in part.state_rate.items():
            if self.state_rate.setdefault(state, rate) != rate:
                self.found.add("invoices", invoice_id, "one tax rate per state", state)

    def report(self, path: str, plan: Plan, seconds: float, promoted: str | None) -> Report:
        expected_rows = plan.rows()
        rows = {table: self.rows[table] for table in TABLES}
        for table, count in expected_rows.items():
            if rows[table] != count:
                self.found.add(table, 0, "row count matches the plan", f"{rows[table]} != {count}")
        if isinstance(plan, GrownPlan):
            self._advanced(plan)
        # A table's digest covers its key ranges in plan order; the overall
        # digest covers the tables in schema order.
        table_digests, overall = store_digest(self.digests)
        if promoted is not None and overall != promoted:
            self.found.add("store", 0, PROMOTED_RULE, f"{overall} != {promoted} (recorded)")
        total = sum(self.found.by_rule.values())
        return Report(
            path=path,
            ok=total == 0,
            digest=overall,
            rows=rows,
            expected_rows=expected_rows,
            violation_count=total,
            violations_by_rule=dict(self.found.by_rule),
            violations=self.found.listed,
            table_digests=table_digests,
            seconds=round(seconds, 3),
            promoted_digest=promoted,
        )

    def _advanced(self, plan: GrownPlan) -> None:
        """An advanced store: every invoice and line item its days added was
        checked with its customer, and every product's inventory ledger
        balances with the units those line items sold."""
        days = plan.customer_shards[-1]
        for what, table, count in (
            ("later invoices", "invoices", days.invoices),
            ("later lines", "invoice_line_items", days.lines),
        ):
            if self.rows[what] != count:
                self.found.add(
                    table, 0, "every row the days added belongs to a customer",
                    f"{self.rows[what]} checked of {count}",
                )  # fmt: skip
        if self.rows["changes"] != plan.changes - plan.changes_checked:
            self.found.add(
                "changes", 0, "the change feed holds only the days' transitions",
                f"{self.rows['changes']} changes of {plan.changes - plan.changes_checked}",
            )  # fmt: skip
        for product_id, left in sorted(self.ledger.items()):
            if left != self.sold.get(product_id, 0):
                self.found.add(
                    "inventory", product_id, "the inventory ledger balances",
                    f"{left} units left, {self.sold.get(product_id, 0)} sold",
                )  # fmt: skip


#: The tables the foundation task reads itself (`foundation.verify_foundation`)
#: before it digests every table's keys outside the plan's ranges.
FOUNDATION_TABLES = ("customer_types", "product_categories")


def in_task_order(
    ranges: Mapping[str, Sequence[bytes]], outside: Mapping[str, bytes]
) -> dict[str, list[bytes]]:
    """Each table's digests in the order verify's tasks produce them
    (`tasks.verify_tasks`), from the digests of its key ranges (in plan order)
    and of its keys outside them: the foundation task's own tables, then the
    keys outside; for the other tables, the keys outside first, then the
    shards' ranges."""
    return {
        table: [*ranges[table], outside[table]]
        if table in FOUNDATION_TABLES
        else [outside[table], *ranges[table]]
        for table in TABLES
    }


def store_digest(digests: Mapping[str, Sequence[bytes]]) -> tuple[dict[str, str], str]:
    """Each table's digest and the store's, from the digests of each table's
    key ranges (in plan order): what verify reports and promotion records."""
    tables = {
        table: hashlib.blake2b(b"".join(digests[table]), digest_size=16).hexdigest()
        for table in TABLES
    }
    overall = hashlib.blake2b(digest_size=16)
    for table in TABLES:
        overall.update(table.encode())
        overall.update(bytes.fromhex(tables[table]))
    return tables, overall.hexdigest()
