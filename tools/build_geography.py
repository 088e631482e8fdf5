"""Build shardgen/data/geography.json from the pinned US ZIP dataset.

The `zipcodes` package is the source of truth; loading all of it takes about
half a second, too slow for every worker process, so the street-address ZIPs
shardgen draws from are extracted once into a compact file that ships with the
package. Rebuild after changing the pinned `zipcodes` or `phonenumbers`:

    python tools/build_geography.py

tests/test_geography.py rebuilds it in memory and compares, so the shipped file
cannot drift from the pinned dataset.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import phonenumbers
import zipcodes

# The 50 states and DC: the data contract excludes territories.
STATES = [
    "AK",
    "AL",
    "AR",
    "AZ",
    "CA",
    "CO",
    "CT",
    "DC",
    "DE",
    "FL",
    "GA",
    "HI",
    "IA",
    "ID",
    "IL",
    "IN",
    "KS",
    "KY",
    "LA",
    "MA",
    "MD",
    "ME",
    "MI",
    "MN",
    "MO",
    "MS",
    "MT",
    "NC",
    "ND",
    "NE",
    "NH",
    "NJ",
    "NM",
    "NV",
    "NY",
    "OH",
    "OK",
    "OR",
    "PA",
    "RI",
    "SC",
    "SD",
    "TN",
    "TX",
    "UT",
    "VA",
    "VT",
    "WA",
    "WI",
    "WV",
    "WY",
]

OUTPUT = Path(__file__).resolve().parent.parent / "shardgen" / "data" / "geography.json"


def us_area_code(code: str) -> bool:
    """True when numbers in this area code are valid US numbers.

    ZIP datasets list some Canadian or Caribbean codes for border ZIPs; those
    would not make a valid US number.
    """
    if len(code) != 3 or not code.isdigit():
        return False
    number = phonenumbers.parse(f"+1{code}2345678")
    return bool(phonenumbers.is_valid_number_for_region(number, "US"))


def build() -> dict[str, Any]:
    """Return {"source": ..., "states": {state: [[zip, city, county, [area codes]], ...]}}."""
    valid: dict[str, bool] = {}
    states: dict[str, list[list[Any]]] = {state: [] for state in STATES}
    for row in zipcodes.list_all():  # type: ignore[no-untyped-call]
        if row["zip_code_type"] != "STANDARD" or not row["active"]:
            continue
        state = row["state"]
        if state not in states or not row["county"] or not row["city"]:
            continue
        codes = []
        for code in row["area_codes"]:
            if code not in valid:
                valid[code] = us_area_code(code)
            if valid[code]:
                codes.append(code)
        if not codes:
            continue
        states[state].append([row["zip_code"], row["city"], row["county"], sorted(set(codes))])
    for rows in states.values():
        rows.sort()
    return {
        "source": {
            "zipcodes": zipcodes.__version__,
            "phonenumbers": phonenumbers.__version__,
            "filter": "STANDARD, active, 50 states + DC, valid US area codes only",
        },
        "states": states,
    }


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n"


def main() -> int:
    data = build()
    OUTPUT.write_text(render(data), encoding="utf-8")
    total = sum(len(rows) for rows in data["states"].values())
    print(f"wrote {OUTPUT} ({total} ZIPs)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
