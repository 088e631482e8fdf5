"""The links rules: links describe each parent's children, and none names a
parent outside the plan."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

import shardgen
from shardgen.schema import INVOICES
from shardgen.store import LINK, LINK_KEY, Store
from shardgen.verification.links import LINKS_RULE, Spans

from .test_verification import put_raw


def test_a_wrong_link_is_reported(small_store: Path, tmp_path: Path) -> None:
    path = tmp_path / "links.lmdb"
    shutil.copyfile(small_store, path)
    with Store.reopen(path) as store:
        relation, parent, first, count = next(store.links())
        with store.write() as txn:
            store.put_links(txn, [(relation, parent, first, count + 1)])
    report = shardgen.verify(path)
    # Links are not digested: the rule finds it, and the data is as promoted.
    assert report.violations_by_rule == {"links describe each parent's children": 1}


def test_a_malformed_link_value_is_reported(small_store: Path, tmp_path: Path) -> None:
    path = put_raw(small_store, tmp_path, "links", (LINK_KEY.pack(INVOICES, 1), b"short"))
    report = shardgen.verify(path)
    assert report.violations_by_rule == {LINKS_RULE: 1}
    assert report.violations[0].id == 1 and report.violations[0].detail == f"relation {INVOICES}"


def test_a_link_of_a_parent_beyond_the_plan_is_reported(small_store: Path, tmp_path: Path) -> None:
    with shardgen.open(small_store) as store:
        customers = store.count("customers")
    link = (LINK_KEY.pack(INVOICES, customers + 1), LINK.pack(1, 1))
    report = shardgen.verify(put_raw(small_store, tmp_path, "links", link))
    assert report.violations_by_rule == {LINKS_RULE: 1}
    assert report.violations[0].id == customers + 1


def test_spans_match_only_consecutive_children_counted_right() -> None:
    spans = Spans(3)
    spans.see(np.array([0, 0, 2, 2]), np.array([11, 10, 20, 22]))
    assert spans.parents == 2
    parents = np.array([0, 0, 1, 2, 5])
    first = np.array([10, 10, 0, 20, 0])
    count = np.array([2, 3, 0, 3, 0])
    # Parent 2's children 20 and 22 are not consecutive; parent 1 has none; 5 is outside.
    assert spans.matches(parents, first, count).tolist() == [True, False, False, False, False]
