"""The delivery chart: deliveries by state over time, drawn on the server as SVG, so the page
needs no script and nothing from another site. Numbers and escaped labels only."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from newsletter.desk.overview import Moment

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 130, 16, 40
# (state, colour, label): colours a colour-blind reader can tell apart, each also labelled.
SERIES = (
    ("sent", "#1b7f3b", "delivered"),
    ("waiting", "#6b7785", "waiting"),
    ("deferred", "#b26a00", "deferred"),
    ("failed", "#b3261e", "failed"),
)


def delivery_chart(timeline: Sequence[Moment]) -> str:
    """A line per state: how many deliveries were in it at each moment."""
    if not timeline:
        return ""
    top = max(max(m.sent, m.waiting, m.deferred, m.failed) for m in timeline) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = len(timeline)

    def x(n: int) -> float:
        return LEFT + (plot_w * n / (count - 1) if count > 1 else plot_w / 2)

    def y(value: int) -> float:
        return TOP + plot_h - plot_h * value / top

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title">',
        '<title id="chart-title">Deliveries by state over time</title>',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#f7f9fb" '
        'stroke="#c8d0d8"/>',
    ]
    for value in sorted({0, top // 2, top}):
        parts.append(
            f'<text x="{LEFT - 8}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="#3d4852">{value}</text>'
        )
    for n in sorted({0, count - 1}):
        anchor = "start" if n == 0 and count > 1 else "end" if n else "middle"
        label = escape(timeline[n].at.strftime("%H:%M:%S UTC"))
        parts.append(
            f'<text x="{x(n):.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="{anchor}" '
            f'font-size="12" fill="#3d4852">{label}</text>'
        )
    for row, (attribute, colour, label) in enumerate(SERIES):
        points = " ".join(
            f"{x(n):.1f},{y(getattr(m, attribute)):.1f}" for n, m in enumerate(timeline)
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.5"/>'
        )
        if count == 1:
            parts.append(
                f'<circle cx="{x(0):.1f}" cy="{y(getattr(timeline[0], attribute)):.1f}" r="4" '
                f'fill="{colour}"/>'
            )
        last = getattr(timeline[-1], attribute)
        parts.append(
            f'<rect x="{WIDTH - RIGHT + 14}" y="{TOP + row * 22}" width="12" height="12" '
            f'fill="{colour}"/><text x="{WIDTH - RIGHT + 32}" y="{TOP + row * 22 + 11}" '
            f'font-size="13" fill="#1d2733">{escape(label)}: {last}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
