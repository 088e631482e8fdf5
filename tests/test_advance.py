"""Advance: a generated store continued day by day, on real stores.

Path independence (two steps equal one, any worker count), a killed advance
resumed, a store without what advance needs refused with advice that works,
verify's advance rules on tampered stores, and the library around it
(children, stats, report, log, exports)."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lmdb
import msgspec
import pytest

import shardgen
from shardgen.advance.ledger import AGENDA_KEY, OVERDUE, PAY, recent_key
from shardgen.make.catalog import build_catalog
from shardgen.pipeline import Summary
from shardgen.plan import EPOCH, GrownPlan
from shardgen.schema import DECODERS, ENCODER, EVENT_DECODER, LINE_ITEMS, AdvanceStarted, Change
from shardgen.store import Store, key
from shardgen.store.keys import LINK, LINK_KEY
from shardgen.verification import changes as changes_check
from shardgen.verification import verify_store
from shardgen.verification.reader import ShardReader

from .conftest import AS_OF
from .test_bad_input import assert_one_line, run

ROOT = Path(__file__).resolve().parents[1]
#: Where the module's stores are advanced to: a month, and a day before it.
END = "2026-07-30"
MIDDLE = "2026-07-12"


def day_of(date: str) -> int:
    return (dt.date.fromisoformat(date) - EPOCH).days


@pytest.fixture(scope="module")
def advanced(
    large_store: tuple[Path, Summary], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, shardgen.AdvanceSummary]:
    """The large store as generated (a copy) and advanced to END in one step."""
    folder = tmp_path_factory.mktemp("advanced")
    before, after = folder / "before.lmdb", folder / "after.lmdb"
    shutil.copyfile(large_store[0], before)
    shutil.copyfile(large_store[0], after)
    summary = shardgen.advance(after, to=END, workers=1)
    return before, after, summary


def test_two_steps_give_the_bytes_of_one_with_any_worker_count(
    advanced: tuple[Path, Path, shardgen.AdvanceSummary], tmp_path: Path
) -> None:
    before, after, summary = advanced
    assert summary.as_of == END and summary.days == 30
    assert summary.inserted["invoices"] > 0 and summary.updated["invoices"] > 0
    two = tmp_path / "two.lmdb"
    shutil.copyfile(before, two)
    first = shardgen.advance(two, to=MIDDLE, workers=2)
    assert first.digest != summary.digest
    second = shardgen.advance(two, days=day_of(END) - day_of(MIDDLE), workers=2)
    assert second.digest == summary.digest
    report = shardgen.verify(two, workers=2)
    assert report.ok and report.digest == summary.digest
    # The same changes, in the same order, whichever way the days were run.
    assert list(shardgen.changes(two)) == list(shardgen.changes(after))


def test_every_rule_holds_on_the_advanced_store_as_of_its_new_day(
    advanced: tuple[Path, Path, shardgen.AdvanceSummary],
) -> None:
    before, after, summary = advanced
    report = shardgen.verify(after)
    assert report.ok, report.violations[:5]
    grown = summary.inserted
    original = shardgen.verify(before).rows
    assert report.rows["invoices"] == original["invoices"] + grown["invoices"]
    assert report.rows["invoice_line_items"] == (
        original["invoice_line_items"] + grown["invoice_line_items"]
    )
    changes = [msgspec.json.decode(line) for line in shardgen.changes(after)]
    with shardgen.open(after) as data:
        assert data.as_of() == END
        # A customer's invoices include those the days issued to it.
        new = next(c for c in changes if c["table"] == "invoices" and c["op"] == "c")
        customer = new["after"]["customer_id"]
        ids = [invoice.id for invoice in data.children("invoices", customer)]
        assert new["key"]["id"] in ids
        lines = data.children("line_items", new["key"]["id"])
        invoice = data.get("invoices", new["key"]["id"])
        assert sum(line.line_total for line in lines) == invoice.subtotal


def test_stats_report_and_log_show_the_business_moving(
    advanced: tuple[Path, Path, shardgen.AdvanceSummary],
) -> None:
    before, after, _ = advanced
    profile = shardgen.stats(after)
    assert profile.as_of == END and profile.generated_as_of == AS_OF
    figures = shardgen.report(after)
    assert figures.as_of == END
    text = run("report", after).stdout
    assert "2026-07" in text and f"as of {END}" in text
    assert "2026-07" not in run("report", before).stdout  # as of June: no July yet
    stats_text = run("stats", after).stdout
    assert f"advanced from {AS_OF}" in stats_text and "MISS" not in stats_text
    log = run("log", after).stdout
    assert "advance_started" in log and f"from {AS_OF} to {END}" in log
    assert log.count("day_advanced") == 30


def test_the_feed_turns_the_first_export_into_the_second(
    advanced: tuple[Path, Path, shardgen.AdvanceSummary], tmp_path: Path
) -> None:
    before, after, summary = advanced
    first, second = tmp_path / "t0.sqlite", tmp_path / "t1.sqlite"
    shardgen.export(before, format="sqlite", to=first)
    shardgen.export(after, format="sqlite", to=second)
    feed = tmp_path / "feed.jsonl"
    result = run("changes", after, "--since", AS_OF, "--until", END, "--out", feed)
    assert result.returncode == 0, result.stderr
    changes = [msgspec.json.decode(line) for line in feed.read_text().splitlines()]
    assert len(changes) == summary.changes
    assert [c["seq"] for c in changes] == list(range(1, len(changes) + 1))
    with sqlite3.connect(first) as db:
        db.execute("PRAGMA foreign_keys = OFF")
        for change in changes:
            row = change["after"]
            columns = ", ".join(row)
            if change["op"] == "c":
                marks = ", ".join("?" * len(row))
                db.execute(
                    f"INSERT INTO {change['table']} ({columns}) VALUES ({marks})",
                    list(row.values()),
                )
            else:
                old = db.execute(
                    f"SELECT {columns} FROM {change['table']} WHERE id = ?", [change["key"]["id"]]
                ).fetchone()
                assert old == tuple(change["before"].values()), change["seq"]
                sets = ", ".join(f"{c} = ?" for c in row)
                db.execute(
                    f"UPDATE {change['table']} SET {sets} WHERE id = ?",
                    [*row.values(), change["key"]["id"]],
                )
    with sqlite3.connect(first) as a, sqlite3.connect(second) as b:
        tables = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        for (table,) in b.execute(tables):
            query = f"SELECT * FROM {table} ORDER BY 1"
            assert a.execute(query).fetchall() == b.execute(query).fetchall(), table


def test_changes_since_and_until_pick_the_days(
    advanced: tuple[Path, Path, shardgen.AdvanceSummary],
) -> None:
    _, after, _ = advanced
    every = list(shardgen.changes(after))
    early = list(shardgen.changes(after, until=MIDDLE))
    late = list(shardgen.changes(after, since=MIDDLE))
    assert early + late == every and early and late
    assert all(msgspec.json.decode(line)["ts"] <= f"{MIDDLE}T23:59:59Z" for line in early)
    assert list(shardgen.changes(after, since=END)) == []


def test_changes_since_any_day_are_the_feed_after_it(
    advanced: tuple[Path, Path, shardgen.AdvanceSummary],
) -> None:
    """`--since` finds where its days begin without reading the feed before
    them: for every day, before the first and after the last, the same
    changes as the whole feed read and filtered."""
    _, after, _ = advanced
    every = list(shardgen.changes(after))
    days = [msgspec.json.decode(line)["ts"][:10] for line in every]
    first = dt.date.fromisoformat(days[0])
    for offset in range(-2, 33):
        since = (first + dt.timedelta(days=offset)).isoformat()
        expected = [line for line, day in zip(every, days, strict=True) if day > since]
        assert list(shardgen.changes(after, since=since)) == expected, since
        until = (first + dt.timedelta(days=offset + 2)).isoformat()
        expected = [line for line, day in zip(every, days, strict=True) if since < day <= until]
        assert list(shardgen.changes(after, since=since, until=until)) == expected, since


def test_a_killed_advance_leaves_the_store_and_resume_continues(
    large_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    target, straight = tmp_path / "killed.lmdb", tmp_path / "straight.lmdb"
    shutil.copyfile(large_store[0], target)
    shutil.copyfile(large_store[0], straight)
    expected = shardgen.advance(straight, days=5, workers=1).digest
    digest = large_store[1].digest
    kill = {"SHARDGEN_FAULT": f"advance:{day_of(AS_OF) + 3}:kill"}
    result = run("advance", target, "--days", "5", "--workers", "1", env=kill)
    assert result.returncode == -9
    report = shardgen.verify(target)
    assert report.ok and report.digest == digest  # the store as it was
    staging = target.with_name(target.name + ".staging")
    with shardgen.open(staging) as copy:
        assert copy.as_of() == "2026-07-02"  # the last whole day
    assert shardgen.verify(staging).ok  # consistent at that day
    # Another advance's copy is not continued: --resume says so.
    other = run("advance", target, "--days", "3", "--resume", "--workers", "1")
    assert_one_line(other, 2, "nothing to resume: ")
    assert "is not an interrupted advance of" in other.stderr
    assert staging.exists()
    # The same command again continues from the last whole day.
    again = run("advance", target, "--days", "5", "--resume", "--workers", "1")
    assert again.returncode == 0, again.stderr
    assert shardgen.verify(target).digest == expected
    assert not staging.exists()
    log = run("log", target).stdout
    assert "(resumed)" in log and log.count("day_advanced") == 5
    # Nothing left to resume: --resume says the copy is not there, and the
    # advice (without --resume) works.
    done = run("advance", target, "--days", "1", "--resume", "--workers", "1")
    assert_one_line(done, 2, f"nothing to resume: {staging} does not exist")
    assert run("advance", target, "--days", "1", "--workers", "1").returncode == 0


def test_an_advance_interrupted_under_other_versions_is_not_resumed(
    small_store: Path, tmp_path: Path
) -> None:
    """The days' data depends on Faker, msgspec, numpy and Python as
    generate's does: an advance killed under other versions is not continued
    (--resume says why; the same command without it starts over and gives
    the bytes of one uninterrupted run)."""
    target, straight = tmp_path / "s.lmdb", tmp_path / "straight.lmdb"
    shutil.copyfile(small_store, target)
    shutil.copyfile(small_store, straight)
    expected = shardgen.advance(straight, days=5, workers=1).digest
    kill = {"SHARDGEN_FAULT": f"advance:{day_of(AS_OF) + 3}:kill"}
    assert run("advance", target, "--days", "5", "--workers", "1", env=kill).returncode == -9
    staging = target.with_name(target.name + ".staging")
    env = lmdb.open(str(staging), subdir=False, max_dbs=32, lock=True)
    with env.begin(write=True) as txn:  # the killed advance, as if run with another Faker
        events = env.open_db(b"events", txn=txn)
        for k, v in list(txn.cursor(db=events)):
            event = EVENT_DECODER.decode(v)
            if isinstance(event, AdvanceStarted):
                versions = msgspec.structs.replace(event.versions, faker="0.0.1")
                txn.put(
                    k, ENCODER.encode(msgspec.structs.replace(event, versions=versions)), db=events
                )
    env.close()
    resumed = run("advance", target, "--days", "5", "--resume", "--workers", "1")
    assert_one_line(resumed, 2, f"nothing to resume: {staging} was advanced with other versions")
    assert "Faker 0.0.1" in resumed.stderr and "run without --resume" in resumed.stderr
    assert (
        staging.exists() and shardgen.verify(target).digest == shardgen.verify(small_store).digest
    )
    again = run("advance", target, "--days", "5", "--workers", "1")
    assert again.returncode == 0, again.stderr
    assert shardgen.verify(target).digest == expected
    assert "(resumed)" not in run("log", target).stdout  # started over from a fresh copy


def test_a_store_without_what_advance_needs_is_refused_with_advice_that_works(
    make_store: object, tmp_path: Path
) -> None:
    path, _ = make_store("small", seed=3)  # type: ignore[operator]
    env = lmdb.open(str(path), subdir=False, max_dbs=32, lock=True)
    with env.begin(write=True) as txn:
        txn.drop(env.open_db(b"agenda", txn=txn), delete=True)
        meta = env.open_db(b"meta", txn=txn)
        for name in [k for k, _ in txn.cursor(db=meta) if k.startswith(b"recent:")]:
            txn.delete(name, db=meta)
    env.close()
    result = run("advance", path, "--days", "1")
    assert_one_line(result, 2, "regenerate it with this shardgen")
    advice = result.stderr.split("`")[1].replace("...", f"--volume small --seed 3 --as-of {AS_OF}")
    assert run(*advice.split()[1:]).returncode == 0
    assert run("advance", path, "--days", "1").returncode == 0


@pytest.mark.parametrize(
    ("table", "damage", "what"),
    [
        ("accounts", None, "its customers or their accounts"),
        ("customers", b"\x92\x07\xc1", "its customers or their accounts"),
        ("inventory", None, "its products or their inventory"),
        ("products", b"\x92\x07\xc1", "its products or their inventory"),
    ],
)
def test_a_damaged_store_is_refused_with_advice_that_works(
    small_store: Path, tmp_path: Path, table: str, damage: bytes | None, what: str
) -> None:
    # A customer's account or a product's inventory row missing, or a record
    # not a customer's or a product's: the first advance reads every
    # customer's facts and account, and every product's stock, before its
    # first day.
    path = tmp_path / "s.lmdb"
    shutil.copyfile(small_store, path)
    env = lmdb.open(str(path), subdir=False, max_dbs=32, lock=True)
    with env.begin(write=True) as txn:
        db = env.open_db(table.encode(), txn=txn)
        if damage is None:
            assert txn.delete(key(7), db=db)
        else:
            txn.put(key(7), damage, db=db)
    env.close()
    damaged = path.read_bytes()
    result = run("advance", path, "--days", "1")
    assert_one_line(result, 1, f"the store at {path} is damaged: {what}")
    assert "regenerate it or restore a copy" in result.stderr
    assert path.read_bytes() == damaged  # the store as it was
    assert not (tmp_path / "s.lmdb.staging").exists()  # no copy of it to continue from
    shutil.copyfile(small_store, path)  # a copy restored
    assert run("advance", path, "--days", "1").returncode == 0
    assert shardgen.verify(path).ok


def test_a_row_a_day_needs_missing_is_the_damaged_store_error(
    large_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    # The first invoice due to be paid or to turn overdue after the store's
    # date, deleted: the day that comes to it finds it missing.
    path = tmp_path / "l.lmdb"
    shutil.copyfile(large_store[0], path)
    env = lmdb.open(str(path), subdir=False, max_dbs=32, lock=True)
    with env.begin(write=True) as txn:
        entries = [AGENDA_KEY.unpack(k) for k, _ in txn.cursor(db=env.open_db(b"agenda", txn=txn))]
        day, _, invoice_id = min(e for e in entries if e[1] in (PAY, OVERDUE))
        assert txn.delete(key(invoice_id), db=env.open_db(b"invoices", txn=txn))
    env.close()
    damaged = path.read_bytes()
    to = (EPOCH + dt.timedelta(days=day)).isoformat()
    result = run("advance", path, "--to", to, "--workers", "1")
    assert_one_line(result, 1, f"the store at {path} is damaged: invoices: the row with id")
    assert path.read_bytes() == damaged  # the store as it was
    assert not (tmp_path / "l.lmdb.staging").exists()
    shutil.copyfile(large_store[0], path)  # a copy restored
    assert run("advance", path, "--to", to, "--workers", "1").returncode == 0


def test_the_days_sell_only_products_on_sale(
    advanced: tuple[Path, Path, shardgen.AdvanceSummary],
) -> None:
    """Generate leaves 5 % of its products off sale (`active` false), sold
    before; the days' line items never sell one of them."""
    _, after, summary = advanced
    added = summary.inserted["invoice_line_items"]
    with Store.open(after) as store:
        off_sale = {p.id for p in store.scan("products") if not p.active}
        first = store.count("invoice_line_items") - added + 1  # the days' lines
        lines = list(store.scan_from("invoice_line_items", first))
    assert len(off_sale) > 50 and len(lines) == added > 5000
    assert [line.id for line in lines if line.product_id in off_sale] == []


def test_a_product_launched_has_on_hand_what_it_received_at_launch(
    advanced: tuple[Path, Path, shardgen.AdvanceSummary],
) -> None:
    _, after, summary = advanced
    launched = [
        change
        for change in map(msgspec.json.decode, shardgen.changes(after))
        if change["table"] == "inventory" and change["op"] == "c"
    ]
    assert len(launched) == summary.inserted["products"] > 10
    for change in launched:
        row = change["after"]
        assert row["last_received_date"] == change["ts"][:10]
        assert row["quantity_on_hand"] == row["last_received_quantity"] >= row["reorder_point"]
        assert row["reserved_quantity"] == 0


def test_deliveries_generate_left_on_their_way_arrive_within_two_weeks(
    large_store: tuple[Path, Summary], advanced: tuple[Path, Path, shardgen.AdvanceSummary]
) -> None:
    """Every product on sale that generate left below its reorder point gets
    its delivery on a day of the 14 after the generated as_of, sold or not;
    30 days on, none is below it."""
    _, after, _ = advanced

    def low(path: Path) -> set[int]:
        with Store.open(path) as store:
            on_sale = {p.id for p in store.scan("products") if p.active}
            return {
                row.id
                for row in store.scan("inventory")
                if row.id in on_sale and row.quantity_on_hand < row.reorder_point
            }

    generated = low(large_store[0])
    assert len(generated) > 100
    assert low(after) == set()
    received: dict[int, list[int]] = {}
    for change in map(msgspec.json.decode, shardgen.changes(after)):
        if change["table"] == "inventory" and change["op"] == "u":
            row, before = change["after"], change["before"]
            if row["last_received_date"] != before["last_received_date"]:
                received.setdefault(change["key"]["id"], []).append(
                    day_of(row["last_received_date"])
                )
    first = {product: min(days) for product, days in received.items() if product in generated}
    assert set(first) == generated
    assert max(first.values()) <= day_of(AS_OF) + 14


def test_a_year_of_days_keeps_the_business_going(
    large_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    """The days issue no bad debt: every invoice they issue and leave unpaid
    is on the agenda to be paid, so a customer it suspends is active again
    once it is paid, and a year on the status mix is near generate's. (With
    generate's share of invoices never paid, drawn for each of the days'
    invoices, the suspended share tripled in the year: most customers buy
    dozens of times a year.)"""
    path = tmp_path / "year.lmdb"
    shutil.copyfile(large_store[0], path)
    generated = shardgen.stats(path).customer_status
    shardgen.advance(path, days=365, workers=1)
    grown = shardgen.stats(path).customer_status
    share = {status: grown[status] / sum(grown.values()) for status in grown}
    assert generated["suspended"] / sum(generated.values()) == pytest.approx(0.10, abs=0.01)
    assert share["suspended"] <= 0.12 and share["active"] >= 0.72, share
    env = lmdb.open(str(path), subdir=False, max_dbs=32, readonly=True, lock=False)
    with env.begin() as txn:
        cursor = txn.cursor(db=env.open_db(b"agenda", txn=txn, create=False))
        to_pay = {i for d, kind, i in (AGENDA_KEY.unpack(k) for k in cursor.iternext(values=False))
                  if kind == PAY}  # fmt: skip
        invoices = env.open_db(b"invoices", txn=txn, create=False)
        decode = DECODERS["invoices"].decode
        unpaid = [
            invoice.id
            for invoice in map(decode, txn.cursor(db=invoices).iternext(keys=False))
            if invoice.invoice_date > day_of(AS_OF) and invoice.paid_date is None
        ]
    env.close()
    assert len(unpaid) > 1000  # the days' last weeks: not yet due, or paid late
    assert [i for i in unpaid if i not in to_pay] == []


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (("--days", "0"), 2, "--days must be a whole number of days"),
        (("--to", "2026-06-01"), 2, "is already at 2026-06-30"),
        (("--to", "2026-13-01"), 2, "--to '2026-13-01' is not a valid date"),
        (("--to", "2200-01-01"), 2, "--to 2200-01-01 is out of range"),
    ],
)
def test_bad_advance_input_is_one_line(
    small_store: Path, tmp_path: Path, args: tuple[str, ...], code: int, needle: str
) -> None:
    copy = tmp_path / "s.lmdb"
    shutil.copyfile(small_store, copy)
    assert_one_line(run("advance", copy, *args), code, needle)
    assert shardgen.verify(copy).digest == shardgen.verify(small_store).digest


#: What the first advance keeps in the store for the next ones: its name,
#: the function that would make it again, and what that makes of a store.
KEPT: dict[str, tuple[str, str, Callable[[Store], bytes]]] = {
    "the catalog": (
        "CATALOG_STATE",
        "build_catalog",
        lambda store: bytes(build_catalog(store.plan()).buffer),
    ),
    "the products on sale": (
        "ON_SALE_STATE",
        "on_sale",
        lambda store: bytes(p.active for p in store.scan("products")),
    ),
}


@pytest.mark.parametrize("what", sorted(KEPT))
def test_the_first_advance_keeps_what_the_next_would_make_again(
    small_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    from shardgen.advance import business

    state_name, maker, expected_of = KEPT[what]
    state = getattr(business, state_name)
    mark = state + "-for"
    path = tmp_path / "s.lmdb"
    shutil.copyfile(small_store, path)
    with Store.open(small_store) as store:
        expected = expected_of(store)

    def kept() -> tuple[bytes | None, bytes | None]:
        with Store.open(path) as store, store.env.begin(db=store.dbs["meta"]) as txn:
            return txn.get(state.encode()), txn.get(mark.encode())

    one = shardgen.advance(path, days=3, workers=1)
    found, digest = kept()
    assert found == expected and digest is not None
    # The next advance reads it: making it again would fail here.
    with monkeypatch.context() as patched:
        patched.setattr(business, maker, lambda *args: pytest.fail("made again"))
        two = shardgen.advance(path, days=3, workers=1)
    # What was kept for another plan or shardgen is made again and replaced.
    with Store.open(path, writable=True) as store, store.write() as txn:
        txn.put(mark.encode(), bytes(16), db=store.dbs["meta"])
        txn.put(state.encode(), bytes(len(expected)), db=store.dbs["meta"])
    three = shardgen.advance(path, days=3, workers=1)
    assert kept() == (expected, digest)
    # The same days as one advance that made it.
    once = tmp_path / "once.lmdb"
    shutil.copyfile(small_store, once)
    assert shardgen.advance(once, days=9, workers=1).digest == three.digest != two.digest
    assert one.digest != two.digest


def test_advice_to_advance_later_works(small_store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "s.lmdb"
    shutil.copyfile(small_store, copy)
    result = run("advance", copy, "--to", AS_OF)
    suggested = result.stderr.rsplit("such as ", 1)[1].strip()
    assert run("advance", copy, "--to", suggested).returncode == 0
    assert_one_line(run("advance", tmp_path / "none.lmdb", "--days", "1"), 1, "no store at")


def test_advance_leaves_nothing_beside_what_is_no_store(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    assert_one_line(run("advance", tmp_path / "none.lmdb", "--days", "1"), 1, "no store at")
    assert_one_line(run("advance", folder, "--days", "1"), 1, "is a directory")
    assert_one_line(run("advance", tmp_path / "gone" / "s.lmdb", "--days", "1"), 1, "no store at")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]  # no lock file left
    assert not any(folder.iterdir())


def test_bad_changes_input_is_one_line(
    advanced: tuple[Path, Path, shardgen.AdvanceSummary], tmp_path: Path
) -> None:
    _, after, _ = advanced
    assert_one_line(run("changes", after, "--since", "2026-07-10", "--until", "2026-07-01"), 2,
                    "is before --since")  # fmt: skip
    assert_one_line(run("changes", after, "--since", "July"), 2, "--since 'July' is not")
    out = tmp_path / "feed.jsonl"
    out.write_text("mine")
    assert_one_line(run("changes", after, "--out", out), 2, "pass --force")
    assert out.read_text() == "mine"
    assert_one_line(run("changes", after, "--out", after), 2, "is the store being read")
    assert run("changes", after, "--out", out, "--force", "--until", "2026-07-01").returncode == 0
    assert out.read_text().count("\n") == len(list(shardgen.changes(after, until="2026-07-01")))


def _tampered(path: Path, table: str, row_id: int, **fields: object) -> None:
    env = lmdb.open(str(path), subdir=False, max_dbs=32, lock=True)
    with env.begin(write=True) as txn:
        db = env.open_db(table.encode(), txn=txn)
        record = DECODERS[table].decode(txn.get(key(row_id), db=db))
        txn.put(key(row_id), ENCODER.encode(msgspec.structs.replace(record, **fields)), db=db)
    env.close()


def test_verify_finds_what_breaks_the_advance_rules(
    advanced: tuple[Path, Path, shardgen.AdvanceSummary], tmp_path: Path
) -> None:
    _, after, _ = advanced
    changes = [msgspec.json.decode(line) for line in shardgen.changes(after)]
    sold = next(c for c in changes if c["table"] == "inventory")["key"]["id"]
    buyer = next(c for c in changes if c["table"] == "invoices" and c["op"] == "c")
    cases = [
        ("inventory", sold, {"quantity_on_hand": 10**6}, "the inventory ledger balances"),
        (
            "customers", buyer["after"]["customer_id"],
            {"status": "inactive", "updated_at": (day_of(END) - 1) * 86_400},
            "an inactive customer bought nothing in its quiet period",
        ),
    ]  # fmt: skip
    for table, row_id, fields, rule in cases:
        copy = tmp_path / f"{table}.lmdb"
        shutil.copyfile(after, copy)
        _tampered(copy, table, row_id, **fields)
        report = shardgen.verify(copy)
        assert rule in report.violations_by_rule, (rule, report.violations_by_rule)
    copy = tmp_path / "later.lmdb"
    shutil.copyfile(after, copy)
    env = lmdb.open(str(copy), subdir=False, max_dbs=32, lock=True)
    with env.begin(write=True) as txn:
        later = env.open_db(b"later", txn=txn)
        first, _ = next(iter(txn.cursor(db=later)))
        txn.delete(first, db=later)
    env.close()
    rule = "every row the days added belongs to a customer"
    assert rule in shardgen.verify(copy).violations_by_rule


#: Damage to an invoice the days issued, or to its lines, and the rule verify
#: then finds broken.
LATER_DAMAGE = {
    "record": ("invoices", "the later index names the invoice's customer"),
    "customer": ("invoices", "the later index names the invoice's customer"),
    "date": ("invoices", "a later invoice is dated after generation"),
    "link": ("links", "links describe each parent's children"),
    "line": ("invoice_line_items", "links describe each parent's children"),
}


@pytest.mark.parametrize("damage", sorted(LATER_DAMAGE))
def test_verify_reads_each_later_invoice_and_its_lines(
    advanced: tuple[Path, Path, shardgen.AdvanceSummary], tmp_path: Path, damage: str
) -> None:
    _, after, _ = advanced
    changes = [msgspec.json.decode(line) for line in shardgen.changes(after)]
    issued = next(c for c in changes if c["table"] == "invoices" and c["op"] == "c")["after"]
    copy = tmp_path / "later.lmdb"
    shutil.copyfile(after, copy)
    if damage == "customer":
        _tampered(copy, "invoices", issued["id"], customer_id=issued["customer_id"] + 1)
    elif damage == "date":
        _tampered(copy, "invoices", issued["id"], invoice_date=day_of(AS_OF) - 1)
    else:
        env = lmdb.open(str(copy), subdir=False, max_dbs=32, lock=True)
        with env.begin(write=True) as txn:
            if damage == "record":
                txn.put(key(issued["id"]), b"\x91\xc1", db=env.open_db(b"invoices", txn=txn))
            else:
                links = env.open_db(b"links", txn=txn)
                at = LINK_KEY.pack(LINE_ITEMS, issued["id"])
                if damage == "link":
                    txn.delete(at, db=links)
                else:
                    first, _ = LINK.unpack(txn.get(at, db=links))
                    txn.delete(key(first), db=env.open_db(b"invoice_line_items", txn=txn))
        env.close()
    table, rule = LATER_DAMAGE[damage]
    report = shardgen.verify(copy)
    assert any(v.rule == rule and v.table == table for v in report.violations), report.violations


def test_verify_finds_a_change_feed_that_is_not_the_days(
    advanced: tuple[Path, Path, shardgen.AdvanceSummary], tmp_path: Path
) -> None:
    _, after, _ = advanced
    rule = "the change feed holds only the days' transitions"
    assert shardgen.verify(after).ok
    changes = [msgspec.json.decode(line) for line in shardgen.changes(after)]
    paid = next(c for c in changes if c["op"] == "u" and c["after"]["status"] == "paid")
    for name, edit in (
        ("total", lambda r: msgspec.structs.replace(r, total=r.total + 1)),
        ("status", lambda r: msgspec.structs.replace(r, status="pending", paid_date=None)),
    ):
        copy = tmp_path / f"{name}.lmdb"
        shutil.copyfile(after, copy)
        _edit_change(copy, paid["seq"], lambda c, edit=edit: _after(c, edit(_row(c.after))))
        found = shardgen.verify(copy).violations
        assert any(v.rule == rule and v.id == paid["seq"] for v in found), name
    copy = tmp_path / "gap.lmdb"
    shutil.copyfile(after, copy)
    env = lmdb.open(str(copy), subdir=False, max_dbs=32, lock=True)
    with env.begin(write=True) as txn:
        txn.delete(key(5), db=env.open_db(b"changes", txn=txn))
    env.close()
    assert rule in shardgen.verify(copy).violations_by_rule


def test_an_advance_checks_the_changes_its_days_added(
    advanced: tuple[Path, Path, shardgen.AdvanceSummary], tmp_path: Path
) -> None:
    """The feed only grows, and the feed a store held was verified when it was
    promoted: an advance's verify reads the changes its own days added (a
    daily advance's cost does not grow with the feed), `shardgen verify` all."""
    _, after, summary = advanced
    rule = "the change feed holds only the days' transitions"
    damaged, sound = tmp_path / "damaged.lmdb", tmp_path / "sound.lmdb"
    shutil.copyfile(after, damaged)
    shutil.copyfile(after, sound)
    # A change of the promoted feed made into one that is not the days'.
    _edit_change(damaged, 5, _earlier)
    assert rule in shardgen.verify(damaged).violations_by_rule
    # Advancing it checks the days it adds, and leaves the rest as it was.
    one = shardgen.advance(damaged, days=2, workers=2)
    two = shardgen.advance(sound, days=2, workers=2)
    assert one.digest == two.digest and one.changes == two.changes > 1000
    assert {(v.rule, v.id) for v in shardgen.verify(damaged).violations} == {(rule, 5)}
    assert shardgen.verify(sound).ok
    with Store.open(sound) as store:
        plan = store.scope()
    assert isinstance(plan, GrownPlan) and plan.changes == summary.changes + two.changes
    # A change of the days' own is read by the verify such an advance runs.
    seq = summary.changes + two.changes // 2
    _edit_change(sound, seq, _earlier)
    with Store.open(sound) as store:
        report = verify_store(store, workers=1, changes_checked=summary.changes)
        before = verify_store(store, workers=1, changes_checked=plan.changes)
    assert {(v.rule, v.id) for v in report.violations} == {(rule, seq)}
    assert before.ok and report.digest == before.digest == two.digest


def _edit_change(path: Path, seq: int, edit: Callable[[Change], Change]) -> None:
    """Replace change `seq` of the store's feed with `edit` of it."""
    env = lmdb.open(str(path), subdir=False, max_dbs=32, lock=True)
    with env.begin(write=True) as txn:
        db = env.open_db(b"changes", txn=txn)
        change = msgspec.msgpack.Decoder(Change).decode(txn.get(key(seq), db=db))
        txn.put(key(seq), ENCODER.encode(edit(change)), db=db)
    env.close()


def _row(raw: msgspec.Raw) -> Any:
    """An invoice's record, as a change holds it."""
    return DECODERS["invoices"].decode(raw)


def _earlier(change: Change) -> Change:
    """A change dated 400 days earlier: on no day of an advance."""
    return msgspec.structs.replace(change, ts=change.ts - 400 * 86_400)


def _feed_violations(path: Path) -> list[tuple[int, str]]:
    """(seq, detail) of every violation verify's feed check finds in the store."""
    with Store.open(path) as store, store.snapshot() as view:
        plan = store.scope()
        found = []
        for task in range(changes_check.tasks(plan)):
            reader = ShardReader(view, None)
            changes_check.verify_changes(reader, plan, task)
            found += [(v.id, v.detail) for v in reader.found.listed]
    return found


#: Edits of one change of the feed (its record before or after, or the
#: change itself), each breaking one rule of the feed, and what verify says.
FEED_EDITS: dict[str, tuple[str, Callable[[Change, Any, Any], Change], str]] = {
    "dated before generation": ("u", lambda c, b, a: _earlier(c), "no day"),
    "dated past int64": ("u", lambda c, b, a: msgspec.structs.replace(c, ts=2**64 - 1), "no day"),
    "a delete": ("u", lambda c, b, a: msgspec.structs.replace(c, op="d"), "d of"),
    "an unknown table": ("c", lambda c, b, a: msgspec.structs.replace(c, table="x"), "c of x"),
    "a change that does not decode": (
        "c", lambda c, b, a: msgspec.structs.replace(c, after=msgspec.Raw(b"\x91\xc1")), ""
    ),
    "a row that is not the table's": (
        "c", lambda c, b, a: msgspec.structs.replace(c, after=msgspec.Raw(ENCODER.encode([1]))),
        "Expected",
    ),
    "an insert under another key": (
        "c", lambda c, b, a: msgspec.structs.replace(c, key=c.key + 1), "key and row"
    ),
    "an insert of a generated row": (
        "c", lambda c, b, a: _after(c, msgspec.structs.replace(a, id=1), key=1), "generated row"
    ),
    "an update of another row": (
        "u", lambda c, b, a: _after(c, msgspec.structs.replace(a, id=a.id + 1)), "key and row"
    ),
    "a field that may not change": (
        "u", lambda c, b, a: _after(c, msgspec.structs.replace(a, created_at=a.created_at + 1)),
        "changes created_at",
    ),
    "paid on another day": (
        "u", lambda c, b, a: _after(c, msgspec.structs.replace(a, paid_date=a.paid_date - 1)),
        "paid on another day",
    ),
    "a status that may not follow": (
        "u", lambda c, b, a: _after(c, msgspec.structs.replace(a, status=b.status)), " → ",
    ),
}  # fmt: skip


def _after(change: Change, row: Any, **fields: Any) -> Change:
    return msgspec.structs.replace(change, after=msgspec.Raw(ENCODER.encode(row)), **fields)


@pytest.mark.parametrize("edit", sorted(FEED_EDITS))
def test_the_feed_check_finds_each_change_that_is_not_the_days(
    advanced: tuple[Path, Path, shardgen.AdvanceSummary], tmp_path: Path, edit: str
) -> None:
    _, after, _ = advanced
    assert _feed_violations(after) == []  # each batch checked at once, none amiss
    op, change_it, said = FEED_EDITS[edit]
    copy = tmp_path / "feed.lmdb"
    shutil.copyfile(after, copy)
    decode = msgspec.msgpack.Decoder(Change).decode
    env = lmdb.open(str(copy), subdir=False, max_dbs=32, lock=True)
    with env.begin(write=True) as txn:
        db = env.open_db(b"changes", txn=txn)
        # A change in the middle of a batch: an invoice paid (an update), or a new one.
        decoder = DECODERS["invoices"]
        for raw_key, raw in txn.cursor(db=db):
            change = decode(raw)
            seq = int.from_bytes(raw_key, "big")
            if (change.table, change.op) != ("invoices", op) or seq <= 5000:
                continue
            if op == "c" or decoder.decode(change.after).status == "paid":
                break
        row_before = decoder.decode(change.before) if op == "u" else None
        edited = change_it(change, row_before, decoder.decode(change.after))
        txn.put(raw_key, ENCODER.encode(edited), db=db)
    env.close()
    found = _feed_violations(copy)
    assert found[0][0] == seq and said in found[0][1], found
    if not edit.startswith("dated"):  # a later date puts the changes after it out of order
        assert [s for s, _ in found] == [seq], found


def test_recent_rates_come_from_every_shard(large_store: tuple[Path, Summary]) -> None:
    with shardgen.open(large_store[0]) as data:
        plan = data.plan()
        for shard in plan.customer_shards:
            assert data.state(recent_key("customers", shard.index).decode()) is not None
        for shard in plan.product_shards:
            assert data.state(recent_key("products", shard.index).decode()) is not None


def test_an_advanced_store_exports_what_check_export_accepts(
    advanced: tuple[Path, Path, shardgen.AdvanceSummary], tmp_path: Path
) -> None:
    _, after, _ = advanced
    out = tmp_path / "after.sqlite"
    shardgen.export(after, format="sqlite", to=out)
    check = subprocess.run(
        [sys.executable, ROOT / "tools" / "check_export.py", "--as-of", END, out],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    one, two = tmp_path / "one", tmp_path / "two"
    shardgen.export(after, format="csv", to=one, workers=1)
    shardgen.export(after, format="csv", to=two, workers=2)
    for file in sorted(one.iterdir()):
        assert file.read_bytes() == (two / file.name).read_bytes(), file.name


def test_generate_resume_refuses_an_interrupted_advance(
    large_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    target = tmp_path / "store.lmdb"
    shutil.copyfile(large_store[0], target)
    kill = {"SHARDGEN_FAULT": f"advance:{day_of(AS_OF) + 2}:kill"}
    assert run("advance", target, "--days", "3", env=kill).returncode == -9
    options = ("--volume", "large", "--seed", "7", "--as-of", AS_OF, "--out", target)
    result = run("generate", *options, "--resume")
    assert_one_line(result, 2, "is an interrupted advance")
    assert shardgen.verify(target).digest == large_store[1].digest
    advice = result.stderr.rsplit("`", 2)[1].split()
    assert run(*advice[1:]).returncode == 0
    assert not target.with_name(target.name + ".staging").exists()
    assert shardgen.verify(target).digest == large_store[1].digest


def test_an_advance_that_does_not_verify_leaves_the_store(
    large_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    target = tmp_path / "bad.lmdb"
    shutil.copyfile(large_store[0], target)
    _tampered(target, "invoices", 1, total=1)  # no longer subtotal + tax
    before = target.read_bytes()
    result = run("advance", target, "--days", "2")
    assert_one_line(result, 1, "after advancing; first: invoices 1: total = subtotal + tax_amount")
    assert target.read_bytes() == before
    staging = target.with_name(target.name + ".staging")
    assert f"kept at {staging}" in result.stderr and staging.exists()
    log = run("log", staging).stdout
    assert "run_failed" in log and "run_rolled_back" in log


def test_advance_writes_through_no_link_it_did_not_make(small_store: Path, tmp_path: Path) -> None:
    store, victim = tmp_path / "s.lmdb", tmp_path / "victim"
    shutil.copyfile(small_store, store)
    victim.write_text("precious")
    staging = store.with_name(store.name + ".staging")
    staging.symlink_to(victim)
    assert_one_line(run("advance", store, "--days", "1"), 2, "is a symbolic link")
    assert victim.read_text() == "precious" and staging.is_symlink()
    link = tmp_path / "link.lmdb"
    link.symlink_to(store)
    assert_one_line(run("advance", link, "--days", "1"), 2, "is a symbolic link")
    assert shardgen.verify(store).digest == shardgen.verify(small_store).digest
