"""What verify reports: violations counted per rule, the first few listed,
and the report `shardgen verify` prints."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import msgspec
import numpy as np
from numpy.typing import NDArray

#: How many violations of each rule are listed; all are counted.
LISTED_PER_RULE = 20


class Violation(msgspec.Struct, frozen=True):
    table: str
    id: int
    rule: str
    detail: str


class Report(msgspec.Struct):
    """The outcome of verify: data, not exceptions."""

    path: str
    ok: bool
    digest: str
    rows: dict[str, int]
    expected_rows: dict[str, int]
    violation_count: int
    violations_by_rule: dict[str, int]
    violations: list[Violation]
    table_digests: dict[str, str]
    seconds: float
    #: The digest recorded when the dataset was promoted (None in a staging
    #: store): `digest` must equal it, or the store changed since.
    promoted_digest: str | None = None


class Findings:
    """Violations counted per rule, the first few of each listed."""

    def __init__(self) -> None:
        self.by_rule: Counter[str] = Counter()
        self.shown: Counter[str] = Counter()
        self.listed: list[Violation] = []

    def add(self, table: str, row_id: int, rule: str, detail: str = "") -> None:
        self.by_rule[rule] += 1
        if self.shown[rule] < LISTED_PER_RULE:
            self.shown[rule] += 1
            self.listed.append(Violation(table, row_id, rule, detail))

    def add_where(
        self,
        table: str,
        ids: NDArray[np.int64],
        rows: NDArray[np.bool_],
        rule: str,
        detail: Callable[[int], str] | None = None,
    ) -> None:
        """Add a violation for each row of a batch where `rows` is true;
        `detail(row)` describes the listed ones."""
        where = np.flatnonzero(rows)
        if not len(where):
            return
        self.by_rule[rule] += len(where)
        room = LISTED_PER_RULE - self.shown[rule]
        for row in where[: max(room, 0)].tolist():
            self.shown[rule] += 1
            text = detail(row) if detail is not None else ""
            self.listed.append(Violation(table, int(ids[row]), rule, text))

    def merge(self, other: Findings) -> None:
        """Append another part's findings after these."""
        self.by_rule.update(other.by_rule)
        for violation in other.listed:
            if self.shown[violation.rule] < LISTED_PER_RULE:
                self.shown[violation.rule] += 1
                self.listed.append(violation)


def render(report: Report) -> str:
    """A report as `shardgen verify` prints it: rows per table, the outcome,
    the violations by rule and the first few, the digest."""
    lines = []
    width = max(len(t) for t in report.expected_rows)
    for table, expected in report.expected_rows.items():
        got = report.rows.get(table, 0)
        mark = "" if got == expected else f"   (expected {expected:,})"
        lines.append(f"  {table:<{width}}  {got:>12,}{mark}")
    if report.ok:
        lines.append(f"ok: every rule holds ({report.seconds:.2f} s)")
    else:
        lines.append(f"FAILED: {report.violation_count} violation(s)")
        for rule, count in sorted(report.violations_by_rule.items()):
            lines.append(f"  {count:>8,}  {rule}")
        lines.append("first violations:")
        for v in report.violations[:50]:
            detail = f" ({v.detail})" if v.detail else ""
            lines.append(f"  {v.table} id {v.id}: {v.rule}{detail}")
    lines.append(f"digest {report.digest}")
    return "\n".join(lines)
