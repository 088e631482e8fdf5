"""An advanced store's invoices that its days issued to a customer shard's
customers (the `later` index), checked with the shard's own and their line
items found through their links: read and checked, never digested or
counted as the shard's rows (the grown shard's ranges are)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from ..schema import DECODERS, LINE_ITEMS

if TYPE_CHECKING:
    from .customer_shard import CustomerChecks


def later_invoices(checks: CustomerChecks) -> None:
    """The invoices the days issued to the shard's customers (the
    `later` index), and their line items, through their links."""
    reader, view, ni = checks.reader, checks.reader.view, checks.ni
    found = reader.found
    decode_invoice, decode_line = (
        DECODERS["invoices"].decode,
        DECODERS["invoice_line_items"].decode,
    )
    generated = checks.grown.generated_as_of_day if checks.grown is not None else 0
    batch, ids, at = [], [], []
    for position, (customer_id, invoice_id) in enumerate(checks.later, ni):
        raw = view.get("invoices", invoice_id)
        invoice = None if raw is None else _decoded(decode_invoice, raw)
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
    lines, line_ids, line_at = [], [], []
    for invoice_id, position in zip(ids, at, strict=True):
        link = view.link(LINE_ITEMS, invoice_id)
        if link is None:
            found.add("links", invoice_id, "links describe each parent's children")
            continue
        first, count = link
        for line_id in range(first, first + min(count, 8)):
            raw = view.get("invoice_line_items", line_id)
            line = None if raw is None else _decoded(decode_line, raw)
            if line is None or line.id != line_id:
                found.add("invoice_line_items", line_id, "links describe each parent's children")
                continue
            lines.append(line)
            line_ids.append(line_id)
            line_at.append(position)
    if lines:
        checks.line_items(lines, np.array(line_ids, np.int64), np.array(line_at, np.int64))
        reader.rows["later lines"] += len(lines)


def _decoded(decode: Any, raw: bytes) -> Any:
    """A record, or None where it does not decode."""
    try:
        return decode(raw)
    except msgspec.DecodeError:
        return None
