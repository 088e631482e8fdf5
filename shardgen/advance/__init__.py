"""Time: a generated business continued day by day (`advance`), and the
change feed of what each day inserted and updated (`changes`).

`fates` decides when an invoice is paid, from the invoice's own seed, for
generate and advance alike; `ledger` is what generate records for advance
(each unpaid invoice's days on the agenda, each customer's account, each
product's stock ledger, the recent daily rates); `business` is what the
days of one advance share (rates, catalog, the change feed); `day` is one day of
activity; `run` copies the store, advances it day by day, verifies and
promotes it; `feed` reads the change feed back as JSON lines.
"""
