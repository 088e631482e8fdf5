"""When an invoice will be paid, decided when it is created, from its own seed.

An invoice's fate is a pure function of (root seed, invoice ID, the
customer's type and status, its dates): no shard's draw order, worker count
or advance path changes it. Draws are counter-based (splitmix64 of the
invoice ID under a key derived from the root seed), computed for many
invoices at once with numpy.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..make.vocabulary import CUSTOMER_TYPES
from ..plan import derive_seed

Ints = NDArray[np.int64]
#: The pay day of an invoice that will never be paid.
NEVER = -1
#: Days a late payment comes after the due date (or after today), on average.
LATE_MEAN_DAYS = 20
#: Of the invoices a type does not pay by as_of in generate (neither on time
#: nor late), the share never paid: most are paid later, some never (bad debt).
NEVER_SHARE = 0.1
#: A suspended customer pays on time this much less often (as at generation).
SUSPENDED_ON_TIME = 0.6
_ON_TIME = np.array([t.pay_on_time for t in CUSTOMER_TYPES], np.float64)
_LATE = np.array([t.pay_late for t in CUSTOMER_TYPES], np.float64)
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def uniforms(seed: int, stream: str, ids: Ints, draws: int) -> NDArray[np.float64]:
    """`draws` uniforms in [0, 1) per ID, shape (len(ids), draws): the same
    for an ID whatever else is drawn, in whatever process."""
    key = np.uint64(derive_seed(seed, stream))
    with np.errstate(over="ignore"):
        base = _splitmix(ids.astype(np.uint64) ^ key)
        out = np.empty((len(ids), draws), np.float64)
        for i in range(draws):
            base = _splitmix(base + np.uint64(i + 1))
            out[:, i] = (base >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)
    return out


def pay_days(
    seed: int,
    ids: Ints,
    types: Ints,
    suspended: NDArray[np.bool_],
    due: Ints,
    today: int,
    *,
    bad_debt: bool = True,
) -> Ints:
    """The day each invoice unpaid at the end of `today` is paid (> today), or NEVER.

    By the customer type's behaviour: an invoice not yet due is paid by its
    due date with the type's on-time share (less for a suspended customer),
    and otherwise late, but for a small share never paid (NEVER_SHARE of the
    share generate leaves unpaid); one already past due is paid late, or
    never with that share of those not paid on time. Late is the due date (or
    tomorrow) and an exponential delay of LATE_MEAN_DAYS on average.
    `types` index CUSTOMER_TYPES.

    Without `bad_debt` (the invoices the days issue), none is never paid:
    what would be is paid late, the same draws deciding everything else.
    Fates are drawn per invoice, and a customer buys dozens of times a year
    at the recent rate, so a never share per invoice would leave most
    customers, in a year or two, with an invoice never paid, suspended for
    good. Bad debt is what generate's snapshot holds.
    """
    u = uniforms(seed, "fate", ids, 3)
    on_time = _ON_TIME[types] * np.where(suspended, SUSPENDED_ON_TIME, 1.0)
    never = (1.0 - _ON_TIME[types] - _LATE[types]) * (NEVER_SHARE if bad_debt else 0.0)
    not_due = due > today
    span = np.maximum(due - today, 1)
    in_time = today + 1 + (u[:, 1] * span).astype(np.int64)
    pays_late = np.where(not_due, u[:, 0] < 1.0 - never, u[:, 0] < 1.0 - never / (1.0 - on_time))
    delay = (-LATE_MEAN_DAYS * np.log1p(-u[:, 2])).astype(np.int64)
    later = np.maximum(due, today) + 1 + delay
    return np.where(
        not_due & (u[:, 0] < on_time), in_time, np.where(pays_late, later, NEVER)
    ).astype(np.int64)
