"""The merge of the parts: row counts against the plan, one tax rate per state
across shards, digests against the one recorded at promotion."""

from __future__ import annotations

import shardgen
from shardgen.run.shards import Task
from shardgen.schema import TABLES
from shardgen.verification import PROMOTED_RULE
from shardgen.verification.merge import Merged
from shardgen.verification.reader import Part
from shardgen.verification.report import Findings

from .conftest import AS_OF

PLAN = shardgen.make_plan("small", as_of=AS_OF)


def part(task: Task, state_rate: dict[str, tuple[int, int]], days: bytes = b"") -> Part:
    return Part(task, {}, {}, Findings(), state_rate, days, {}, {})


def test_a_state_charged_two_rates_by_two_shards_is_reported() -> None:
    merged = Merged(PLAN)
    merged.add(part(Task("customers", 0), {"OH": (575, 3)}))
    merged.add(part(Task("customers", 1), {"OH": (600, 90), "CA": (725, 91)}))
    assert merged.state_rate == {"OH": 575, "CA": 725}
    assert merged.found.by_rule == {"one tax rate per state": 1}
    assert merged.found.listed[0].id == 90


def test_an_empty_store_misses_every_row_and_its_promoted_digest() -> None:
    merged = Merged(PLAN)
    merged.add(part(Task("products", 0), {}, (7).to_bytes(4, "little") * 2))
    assert merged.product_days[4:12] == (7).to_bytes(4, "little") * 2
    report = merged.report("x.lmdb", PLAN, 1.23456, promoted="00")
    assert not report.ok and report.seconds == 1.235
    assert report.rows == dict.fromkeys(TABLES, 0)
    assert report.violations_by_rule == {"row count matches the plan": 8, PROMOTED_RULE: 1}
    assert report.promoted_digest == "00" and len(report.digest) == 32
