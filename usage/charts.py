"""The dashboard's charts: SVG drawn on the server by pygal, inlined in the page.

Inline SVG needs nothing of the browser but SVG: an htmx swap brings new charts with the
numbers, and a page without JavaScript still has them. Our Content-Security-Policy runs
no inline script and no inline style but a nonce'd one, so each chart's own <style> gets
the response's nonce and pygal's <script> (the config of its tooltips, whose JavaScript
would come from a CDN) is left out; every chart's numbers are in the table below it.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.etree import ElementTree

import pygal
from django.conf import settings
from django.utils.safestring import SafeString, mark_safe
from pygal.graph.graph import Graph
from pygal.style import Style

from usage.dashboard import Dashboard, ModelRow, Periods, TierQuota, UserRow

# Text and lines in the page's own colour, light or dark; series in colours that hold on
# either background.
STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="currentColor",
    foreground_strong="currentColor",
    foreground_subtle="rgba(128, 128, 128, .35)",
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    value_font_size=12,
    opacity=".9",
    opacity_hover="1",
    colors=(
        "#3f6ee8",
        "#e8883f",
        "#2e9e6a",
        "#c9463d",
        "#8a5cd6",
        "#c2a100",
        "#2aa3b8",
        "#d45ba3",
        "#8a8f99",
    ),
)
WIDTH = 860
ROW_HEIGHT = 40  # a horizontal bar chart's height a label


def _options(**options: object) -> dict:
    return {
        "style": STYLE,
        "js": [],
        "width": WIDTH,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 3,
        "truncate_legend": 40,
        "truncate_label": 40,
        "no_data_text": "No usage in this range",
        "margin": 12,
        **options,
    }


def draw(board: Dashboard, nonce: str) -> dict[str, SafeString]:
    """Every chart the dashboard shows, by name."""
    drawn = {
        "tokens": tokens_per_period(board.periods),
        "cost": cost_per_period(board.periods, settings.USAGE_CURRENCY),
        "success": success(board.models),
        "latency": latency(board.models),
    }
    if board.users is not None:
        drawn["users"] = top_users(board.users)
    if board.tier_quotas:
        drawn["tier_quotas"] = tier_quotas(board.tier_quotas)
    return {name: render(chart, nonce) for name, chart in drawn.items()}


def render(chart: Graph, nonce: str) -> SafeString:
    tree = chart.render_tree()
    defs = next(element for element in tree if element.tag == "defs")
    for element in list(defs):
        if element.tag == "script":
            defs.remove(element)
        elif element.tag == "style":
            element.set("nonce", nonce)
    return mark_safe(ElementTree.tostring(tree, encoding="unicode"))  # noqa: S308 - pygal's markup, every label escaped by ElementTree


def tokens_per_period(periods: Periods) -> Graph:
    chart = pygal.StackedBar(**_periods_options(periods), value_formatter=_count)
    for name, values in zip(periods.models, periods.tokens, strict=True):
        chart.add(name, values)
    return chart


def cost_per_period(periods: Periods, currency: str) -> Graph:
    chart = pygal.StackedBar(
        **_periods_options(periods), value_formatter=lambda v: f"{v:,.2f} {currency}"
    )
    for name, values in zip(periods.models, periods.cost, strict=True):
        chart.add(name, [float(value) for value in values])
    return chart


def _periods_options(periods: Periods) -> dict:
    return _options(
        height=380,
        x_labels=periods.labels,
        x_label_rotation=-40 if len(periods.labels) > 12 else 0,
        x_labels_major_count=12,
        show_minor_x_labels=len(periods.labels) <= 12,
    )


def success(rows: Sequence[ModelRow]) -> Graph:
    chart = pygal.HorizontalBar(
        **_rows_options([row.name for row in rows]),
        range=(0, 100),
        value_formatter=lambda v: f"{v:.0f} %",
    )
    rates = [row.figures.success_rate for row in rows]
    chart.add("Answered, % of tries", [None if rate is None else rate * 100 for rate in rates])
    return chart


def latency(rows: Sequence[ModelRow]) -> Graph:
    chart = pygal.HorizontalBar(**_rows_options([row.name for row in rows]), value_formatter=_ms)
    figures = [row.figures for row in rows]
    chart.add("First token p50", [f.ttft_p50 for f in figures])
    chart.add("First token p95", [f.ttft_p95 for f in figures])
    chart.add("Total p50", [f.latency_p50 for f in figures])
    chart.add("Total p95", [f.latency_p95 for f in figures])
    return chart


def top_users(rows: Sequence[UserRow]) -> Graph:
    chart = pygal.HorizontalBar(
        **_rows_options([row.username for row in rows]), value_formatter=_count
    )
    chart.add("Tokens", [row.tokens for row in rows])
    return chart


def tier_quotas(rows: Sequence[TierQuota]) -> Graph:
    chart = pygal.HorizontalBar(
        **_rows_options([row.name for row in rows]), value_formatter=lambda v: f"{v:.0f} %"
    )
    chart.add("Tokens today, % of the daily quotas", [_percent(r.daily_share) for r in rows])
    chart.add("Cost this month, % of the budgets", [_percent(r.monthly_share) for r in rows])
    return chart


def _rows_options(labels: list[str]) -> dict:
    return _options(height=140 + ROW_HEIGHT * max(len(labels), 1), x_labels=labels)


def _percent(share: float | None) -> float | None:
    return None if share is None else share * 100


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _ms(value: float) -> str:
    return f"{value:,.0f} ms"
