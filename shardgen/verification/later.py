"""An advanced store's invoices that its days issued to a customer shard's
customers (the `later` index), checked with the shard's own and their line
items found through their links: read and checked, never digested or
counted as the shard's rows (the grown shard's ranges are)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import msgspec
import numpy as np

from ..schema import BATCH_DECODERS, DECODERS, LINE_ITEMS, array_header

if TYPE_CHECKING:
    from .customer_shard import CustomerChecks


def later_invoices(checks: CustomerChecks) -> None:
    """The invoices the days issued to the shard's customers (the
    `later` index), and their line items, through their links."""
    reader, view, ni = checks.reader, checks.reader.view, checks.ni
    found = reader.found
    generated = checks.grown.generated_as_of_day if checks.grown is not None else 0
    invoice_ids = [invoice_id for _, invoice_id in checks.later]
    invoices = _records("invoices", view.get_many("invoices", invoice_ids))
    batch, ids, at = [], [], []
    for position, ((customer_id, invoice_id), invoice) in enumerate(
        zip(checks.later, invoices, strict=True), ni
    ):
        if invoice is None or invoice.customer_id != customer_id:
            found.add("invoices", invoice_id, "the later index names the invoice's customer")
            continue
        if invoice.invoice_date <= generated:
            found.add("invoices", invoice_id, "a later invoice is dated after generation")
        batch.append(invoice)
        ids.append(invoice_id)
        at.append(position)
    if not batch:
        return
    checks.invoices(batch, np.array(ids, np.int64), np.array(at, np.int64))
    reader.rows["later invoices"] += len(batch)
    wanted: list[int] = []
    wanted_at: list[int] = []
    for invoice_id, position in zip(ids, at, strict=True):
        link = view.link(LINE_ITEMS, invoice_id)
        if link is None:
            found.add("links", invoice_id, "links describe each parent's children")
            continue
        first, count = link
        children = range(first, first + min(count, 8))
        wanted += children
        wanted_at += [position] * len(children)
    lines, line_ids, line_at = [], [], []
    found_lines = _records("invoice_line_items", view.get_many("invoice_line_items", wanted))
    for line_id, position, line in zip(wanted, wanted_at, found_lines, strict=True):
        if line is None or line.id != line_id:
            found.add("invoice_line_items", line_id, "links describe each parent's children")
            continue
        lines.append(line)
        line_ids.append(line_id)
        line_at.append(position)
    if lines:
        checks.line_items(lines, np.array(line_ids, np.int64), np.array(line_at, np.int64))
        reader.rows["later lines"] += len(lines)


def _records(table: str, raws: list[bytes | None]) -> list[Any]:
    """Stored values as records, decoded in one call; one by one (None for
    a value that is missing or does not decode) where that fails."""
    if None not in raws:
        present = cast("list[bytes]", raws)
        try:
            return list(
                BATCH_DECODERS[table].decode(array_header(len(present)) + b"".join(present))
            )
        except msgspec.DecodeError:
            pass
    decode = DECODERS[table].decode
    out: list[Any] = []
    for raw in raws:
        try:
            out.append(None if raw is None else decode(raw))
        except msgspec.DecodeError:
            out.append(None)
    return out
