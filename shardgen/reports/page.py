"""The HTML page of the reports: its stylesheet, tables, and SVG bar and column charts.

Everything is inline and every chart coordinate is computed here, so the page
needs no script and nothing from the network, and looks the same offline.
Chart values are integer cents; colours and fonts come from the stylesheet's
classes (`bar`, `bar-2`, `axis`, `grid`, `label`, `value`), so the charts follow
the page's style.

    >>> svg = hbars("Revenue by region", [Bar("West", (123_456_00,))])
    >>> svg.startswith("<svg")
    True
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from html import escape
from typing import NamedTuple

WIDTH = 960
#: Generous average advance of one character at the chart font size (13 px), regular
#: and bold, for layout: wide fallback fonts (DejaVu Sans) must fit too.
CHAR_WIDTH = 7.6
BOLD_CHAR_WIDTH = 8.6


CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
       Arial, sans-serif; color: #1f2933; background: #f7f8fa; margin: 0; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 24px; margin: 8px 0 4px; }
h2 { font-size: 19px; margin: 0 0 6px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
.meta, .def { color: #52606d; margin: 0 0 12px; }
section { background: #fff; border: 1px solid #e4e7eb; border-radius: 8px; padding: 18px 20px;
          margin: 18px 0; }
.figures { display: flex; gap: 12px; flex-wrap: wrap; margin: 14px 0 0; }
.figure { background: #fff; border: 1px solid #e4e7eb; border-radius: 8px; padding: 10px 14px;
          flex: 1 1 180px; }
.figure b { display: block; font-size: 20px; font-variant-numeric: tabular-nums; }
.figure span { color: #52606d; font-size: 12px; }
svg.chart { display: block; width: 100%; height: auto; margin: 6px 0 14px; }
svg text { font: 13px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
svg .label { fill: #1f2933; }
svg .value { fill: #1f2933; font-weight: 600; }
svg .axis { fill: #7b8794; font-size: 12px; }
svg .grid { stroke: #e4e7eb; stroke-width: 1; }
svg .baseline { stroke: #9aa5b1; stroke-width: 1; }
svg .reference { stroke: #c0392b; stroke-width: 1.5; stroke-dasharray: 6 4; }
svg .bar { fill: #3d6fb0; }
svg .bar-2 { fill: #7fb069; }
svg .cost { fill: #c5d3e8; }
svg .age-0 { fill: #7fb069; } svg .age-1 { fill: #e9c46a; } svg .age-2 { fill: #f4a261; }
svg .age-3 { fill: #e76f51; } svg .age-4 { fill: #b5332a; }
table { border-collapse: collapse; min-width: 60%; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 12px; border-bottom: 1px solid #eef0f3; text-align: left;
         white-space: nowrap; }
th { font-weight: 600; color: #52606d; border-bottom: 2px solid #d9dee4; }
td.num, th.num { text-align: right; }
td.wrap { white-space: normal; }
tr.region td { font-weight: 600; background: #f3f6fa; }
tr.state td:first-child { padding-left: 24px; }
tr.total td { font-weight: 700; border-top: 2px solid #9aa5b1; }
footer { color: #7b8794; font-size: 12px; }
"""


def table(
    head: Sequence[str],
    rows: Sequence[tuple[Sequence[str], str]],
    right: Collection[int],
    wrap: Collection[int] = (),
) -> str:
    """A table: `rows` are (cells, row class); columns in `right` are right-aligned
    (numbers), columns in `wrap` may wrap."""

    def cell(tag: str, i: int, text: str) -> str:
        css = " ".join(c for c, on in (("num", i in right), ("wrap", i in wrap)) if on)
        attr = f' class="{css}"' if css else ""
        return f"<{tag}{attr}>{escape(text.strip())}</{tag}>"

    out = ["<table>", "<thead><tr>"]
    out += [cell("th", i, h) for i, h in enumerate(head)]
    out += ["</tr></thead>", "<tbody>"]
    for cells, kind in rows:
        attr = f' class="{kind}"' if kind else ""
        out.append(f"<tr{attr}>" + "".join(cell("td", i, c) for i, c in enumerate(cells)) + "</tr>")
    out += ["</tbody>", "</table>"]
    return "\n".join(out)


def document(title: str, body: Sequence[str]) -> str:
    """A whole page around `body`: UTF-8, the stylesheet inline, well-formed as XML too."""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8"/>',
            '<meta name="viewport" content="width=device-width, initial-scale=1"/>',
            f"<title>{escape(title)}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            "<main>",
            *body,
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )


class Bar(NamedTuple):
    """One bar: a label and its stacked segments in cents (left to right, or bottom up).

    `value_text` is shown at the bar's end instead of its total; `classes` are the
    segments' CSS classes (default `bar`, `bar-2`, …); `note` is a second line
    under a column's label.
    """

    label: str
    segments: tuple[int, ...]
    value_text: str = ""
    classes: tuple[str, ...] = ()
    note: str = ""

    def css(self, k: int) -> str:
        if k < len(self.classes):
            return self.classes[k]
        return "bar" if k == 0 else f"bar-{k + 1}"


def money_short(cents: int) -> str:
    """Dollars for a chart label: three significant figures at most, K/M/B suffixes.

    >>> money_short(123_456_789), money_short(98_765_43), money_short(200_000_00)
    ('$1.23M', '$98.8K', '$200K')
    >>> money_short(99_999_990), money_short(1_250), money_short(0)
    ('$1M', '$12.50', '$0')
    """
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    if cents < 1000 * 100:
        whole, frac = divmod(cents, 100)
        return f"{sign}${whole}" + (f".{frac:02d}" if frac else "")
    step = 10 ** (len(str(cents)) - 3)
    rounded = (cents + step // 2) // step * step  # three significant figures, half up
    unit, scale = next(
        (u, s) for u, s in (("B", 10**11), ("M", 10**8), ("K", 10**5)) if rounded >= s
    )
    whole, frac = divmod(rounded, scale)
    decimals = f"{frac * 100 // scale:02d}".rstrip("0")
    return f"{sign}${whole}{'.' + decimals if decimals else ''}{unit}"


def nice_scale(top: int, ticks: int = 5) -> tuple[int, int]:
    """An axis maximum ≥ `top` and a step of 1, 2 or 5 × 10ᵏ giving at most `ticks` steps.

    >>> nice_scale(9_734_00)
    (1000000, 200000)
    """
    if top <= 0:
        return 1, 1
    for magnitude in range(len(str(top)) - 2, len(str(top)) + 1):
        for factor in (1, 2, 5):
            step = factor * 10 ** max(magnitude, 0)
            steps = -(-top // step)
            if steps <= ticks:
                return steps * step, step
    return top, top


def _text(x: float, y: float, text: str, css: str, anchor: str = "start") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" class="{css}" text-anchor="{anchor}">{escape(text)}</text>'
    )


def _open(title: str, width: int, height: int) -> list[str]:
    return [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
    ]


def legend(items: Sequence[tuple[str, str]], x: float, y: float) -> list[str]:
    """Swatches with labels in a row: (CSS class, label) pairs."""
    out = []
    for css, label in items:
        out.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" class="{css}"/>')
        out.append(_text(x + 17, y, label, "label"))
        x += 17 + len(label) * CHAR_WIDTH + 24
    return out


def hbars(
    title: str,
    bars: Sequence[Bar],
    *,
    legend_items: Sequence[tuple[str, str]] = (),
    width: int = WIDTH,
) -> str:
    """A horizontal bar chart, one row per bar, with a dollar axis below.

    Each bar's segments are stacked with classes `bar`, `bar-2`, … in order.
    """
    row, bar_height = 30, 20
    top = 30 if legend_items else 8
    label_width = int(max((len(b.label) for b in bars), default=4) * CHAR_WIDTH) + 16
    value_width = int(max((len(_value(b)) for b in bars), default=4) * BOLD_CHAR_WIDTH) + 16
    left, right = label_width, width - value_width
    height = top + row * len(bars) + 30
    axis_max, step = nice_scale(max((sum(b.segments) for b in bars), default=0))
    scale = (right - left) / axis_max
    out = _open(title, width, height)
    if legend_items:
        out += legend(legend_items, left, 16)
    bottom = top + row * len(bars)
    for tick in range(0, axis_max + 1, step):
        x = left + tick * scale
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" class="grid"/>')
        out.append(_text(x, bottom + 18, money_short(tick), "axis", "middle"))
    for i, bar in enumerate(bars):
        y = top + i * row + (row - bar_height) / 2
        out.append(_text(left - 8, y + bar_height - 5, bar.label, "label", "end"))
        x = float(left)
        for k, cents in enumerate(bar.segments):
            w = max(cents, 0) * scale
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{bar_height}" '
                f'class="{bar.css(k)}"/>'
            )
            x += w
        out.append(_text(x + 6, y + bar_height - 5, _value(bar), "value"))
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" class="baseline"/>')
    out.append("</svg>")
    return "\n".join(out)


def columns(
    title: str,
    bars: Sequence[Bar],
    *,
    reference: tuple[int, str] | None = None,
    width: int = WIDTH,
    height: int = 320,
) -> str:
    """A column chart: one column per bar, labels (and notes) below, values above.

    `reference` draws a dashed line across the columns at a value (an average),
    explained in a legend above the plot, where it cannot cover a column.
    """
    left, right = 64, width - 16
    top = 48 if reference is not None else 24
    bottom = height - (48 if any(b.note for b in bars) else 32)
    axis_max, step = nice_scale(max((sum(b.segments) for b in bars), default=0))
    scale = (bottom - top) / axis_max
    slot = (right - left) / max(len(bars), 1)
    column = min(slot * 0.62, 90.0)
    out = _open(title, width, height)
    for tick in range(0, axis_max + 1, step):
        y = bottom - tick * scale
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" class="grid"/>')
        out.append(_text(left - 8, y + 4, money_short(tick), "axis", "end"))
    if reference is not None:
        cents, label = reference
        y = bottom - cents * scale
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" class="reference"/>')
        out.append(f'<line x1="{left}" y1="12" x2="{left + 28}" y2="12" class="reference"/>')
        out.append(_text(left + 36, 16, label, "label"))
    for i, bar in enumerate(bars):
        cx = left + slot * (i + 0.5)
        y = float(bottom)
        for k, cents in enumerate(bar.segments):
            h = max(cents, 0) * scale
            y -= h
            out.append(
                f'<rect x="{cx - column / 2:.1f}" y="{y:.1f}" width="{column:.1f}" '
                f'height="{h:.1f}" class="{bar.css(k)}"/>'
            )
        out.append(_text(cx, y - 6, _value(bar), "value", "middle"))
        out.append(_text(cx, bottom + 18, bar.label, "label", "middle"))
        if bar.note:
            out.append(_text(cx, bottom + 35, bar.note, "axis", "middle"))
    out.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" class="baseline"/>')
    out.append("</svg>")
    return "\n".join(out)


def _value(bar: Bar) -> str:
    return bar.value_text or money_short(sum(bar.segments))
