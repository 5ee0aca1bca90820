"""The dashboard's charts: SVG drawn on the server by pygal, inlined in the page.

Inline SVG needs nothing of the browser but SVG: an htmx swap brings new charts with the
numbers, and a page without JavaScript still has them. Our Content-Security-Policy runs
no inline script or style, so what pygal inlines in each chart is taken out: its <style>
is served once for every chart as a stylesheet of ours (stylesheet(); a nonce would not
do, as a chart swapped in by htmx carries another response's), and its <script> (the
config of its tooltips, whose JavaScript would come from a CDN) and the tooltips' layer
go; every chart's numbers are in the table below it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
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
VERSION = pygal.__version__  # in the stylesheet's URL: a new pygal's rules are fetched anew
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
        "margin_bottom": 36,  # pygal's room for a legend at the bottom clips its last row
        **options,
    }


def draw(board: Dashboard) -> dict[str, SafeString]:
    """Every chart the dashboard shows, by name; none where there is nothing to draw (its
    table says so): pygal would draw empty axes with made-up ticks under its no-data text."""
    drawn = {}
    if any(map(any, board.periods.tokens)):
        drawn["tokens"] = tokens_per_period(board.periods)
    if any(map(any, board.periods.cost)):
        drawn["cost"] = cost_per_period(board.periods, settings.USAGE_CURRENCY)
    if board.models:
        drawn["success"] = success(board.models)
        drawn["latency"] = latency(board.models)
    if board.users:
        drawn["users"] = top_users(board.users)
    if board.tier_quotas:
        drawn["tier_quotas"] = tier_quotas(board.tier_quotas)
    return {name: render(chart) for name, chart in drawn.items()}


@functools.cache
def stylesheet() -> str:
    """pygal's rules for STYLE, as it writes them into a chart of as many series as STYLE
    has colours, scoped to every chart (.pygal-chart) in place of that chart's id."""
    chart = pygal.Bar(**_options())
    for n in range(len(STYLE.colors)):
        chart.add(str(n), [1])
    tree = chart.render_tree()
    return tree.find("defs/style").text.replace(f"#{tree.get('id')}", ".pygal-chart")


def render(chart: Graph) -> SafeString:
    tree = chart.render_tree()
    for parent in tree.iter():
        for element in list(parent):
            # The tooltips' layer only their script would show; its style="" attribute
            # the policy would refuse.
            if element.tag in ("script", "style") or "tooltip-overlay" in element.get("class", ""):
                parent.remove(element)
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
    rates = [row.figures.success_rate for row in rows]
    return _horizontal(
        [row.name for row in rows],
        {"Answered, % of tries": [_percent(rate) for rate in rates]},
        _whole_percent,
        range=(0, 100),
    )


def latency(rows: Sequence[ModelRow]) -> Graph:
    figures = [row.figures for row in rows]
    series = {
        "First token p50": [f.ttft_p50 for f in figures],
        "First token p95": [f.ttft_p95 for f in figures],
        "Total p50": [f.latency_p50 for f in figures],
        "Total p95": [f.latency_p95 for f in figures],
    }
    return _horizontal([row.name for row in rows], series, _ms)


def top_users(rows: Sequence[UserRow]) -> Graph:
    return _horizontal(
        [row.username for row in rows], {"Tokens": [row.tokens for row in rows]}, _count
    )


def tier_quotas(rows: Sequence[TierQuota]) -> Graph:
    series = {
        "Tokens today, % of the daily quotas": [_percent(r.daily_share) for r in rows],
        "Cost this month, % of the budgets": [_percent(r.monthly_share) for r in rows],
    }
    return _horizontal([row.name for row in rows], series, _whole_percent)


def _horizontal(
    labels: list[str], series: dict[str, list], formatter: Callable, **options: object
) -> Graph:
    """Bars a label, each series a bar. pygal draws the first label at the bottom: the
    labels and values go in reversed, so the chart reads top down as its table does."""
    chart = pygal.HorizontalBar(
        **_options(
            height=140 + ROW_HEIGHT * max(len(labels), 1) * len(series) // 2 + ROW_HEIGHT,
            x_labels=labels[::-1],
            value_formatter=formatter,
            **options,
        )
    )
    for name, values in series.items():
        chart.add(name, values[::-1])
    return chart


def _percent(share: float | None) -> float | None:
    return None if share is None else share * 100


def _whole_percent(value: float) -> str:
    return f"{value:.0f} %"


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _ms(value: float) -> str:
    return f"{value:,.0f} ms"
