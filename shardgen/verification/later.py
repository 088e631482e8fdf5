"""An advanced store's invoices that its days issued to a customer shard's
customers (the `later` index), checked with the shard's own and their line
items found through their links: read and checked, never digested or
counted as the shard's rows (the grown shard's ranges are).

They are scattered over the days' rows, so each is looked up: all of a
shard's at once (`Snapshot.get_many`, in the store's pages), then its links,
then its line items, each set decoded in one call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from ..schema import DECODERS, LINE_ITEMS, Invoice, InvoiceLineItem, array_header
from ..store import LINK, LINK_KEY, key

if TYPE_CHECKING:
    from .customer_shard import CustomerChecks

#: Each table's records, or nil where a row is missing, decoded in one call.
_OPTIONAL: dict[str, msgspec.msgpack.Decoder[Any]] = {
    "invoices": msgspec.msgpack.Decoder(list[Invoice | None]),
    "invoice_line_items": msgspec.msgpack.Decoder(list[InvoiceLineItem | None]),
}


def later_invoices(checks: CustomerChecks) -> None:
    """The invoices the days issued to the shard's customers (the
    `later` index), and their line items, through their links."""
    reader, view, ni = checks.reader, checks.reader.view, checks.ni
    found = reader.found
    generated = checks.grown.generated_as_of_day if checks.grown is not None else 0
    later = checks.later
    invoices = _records("invoices", view.get_many("invoices", [key(i) for _, i in later]))
    batch, ids, at = [], [], []
    for position, ((customer_id, invoice_id), invoice) in enumerate(
        zip(later, invoices, strict=True), ni
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
    links = view.get_many("links", [LINK_KEY.pack(LINE_ITEMS, i) for i in ids])
    line_ids, line_at = [], []
    for invoice_id, position, link in zip(ids, at, links, strict=True):
        if link is None or len(link) != LINK.size:
            found.add("links", invoice_id, "links describe each parent's children")
            continue
        first, count = LINK.unpack(link)
        for line_id in range(first, first + min(count, 8)):
            line_ids.append(line_id)
            line_at.append(position)
    records = _records(
        "invoice_line_items", view.get_many("invoice_line_items", [key(i) for i in line_ids])
    )
    lines, kept_ids, kept_at = [], [], []
    for line_id, position, line in zip(line_ids, line_at, records, strict=True):
        if line is None or line.id != line_id:
            found.add("invoice_line_items", line_id, "links describe each parent's children")
            continue
        lines.append(line)
        kept_ids.append(line_id)
        kept_at.append(position)
    if lines:
        checks.line_items(lines, np.array(kept_ids, np.int64), np.array(kept_at, np.int64))
        reader.rows["later lines"] += len(lines)


def _records(table: str, values: list[bytes | None]) -> list[Any]:
    """Each value decoded as a record of `table`; None where it is missing
    or does not decode. All in one call, or, where that fails, one by one."""
    packed = array_header(len(values)) + b"".join(b"\xc0" if v is None else v for v in values)
    try:
        records: list[Any] = _OPTIONAL[table].decode(packed)
    except msgspec.DecodeError:
        decode = DECODERS[table].decode
        return [None if v is None else _decoded(decode, v) for v in values]
    return records


def _decoded(decode: Any, raw: bytes) -> Any:
    """A record, or None where it does not decode."""
    try:
        return decode(raw)
    except msgspec.DecodeError:
        return None
