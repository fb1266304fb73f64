"""The report's charts, drawn with matplotlib's `Figure` (never pyplot), and its font."""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from datetime import date
from functools import cache
from typing import Any, cast

from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.typing import RcKeyType

from api.reports.model import TOP, ReportData, top_children

SYSTEM_CJK = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei")

# One colour per figure, the same in every chart and table.
COLOURS = {
    "response": "#2563eb",
    "resolution": "#059669",
    "satisfaction": "#d97706",
    "score": "#374151",
    "response_overdue": "#f59e0b",
    "resolution_overdue": "#dc2626",
    "issued": "#059669",
    "redeemed": "#2563eb",
    "deducted": "#dc2626",
    "expired": "#9ca3af",
}
INK, MUTED, GRID = "#111827", "#6b7280", "#e5e7eb"


@cache
def cjk_font() -> str | None:
    """The family name of a font with Chinese glyphs, registered with matplotlib."""
    known = {f.name for f in font_manager.fontManager.ttflist}
    for family in SYSTEM_CJK:
        if family in known:
            return family
    try:
        import noto_cjk_sans_jp_regular as packaged
    except ImportError:
        return None
    path = str(packaged.FONT_PATH)
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path).get_name()


def label(en: str, zh: str) -> str:
    """A chart label: "English · 中文", or English alone without a CJK font."""
    return f"{en} · {zh}" if cjk_font() else en


def chart_style() -> dict[RcKeyType, Any]:
    family = cjk_font()
    return {
        "font.family": "sans-serif",
        "font.sans-serif": [*([family] if family else []), "DejaVu Sans"],
        "font.size": 10,
        "axes.edgecolor": MUTED,
        "axes.labelcolor": INK,
        "axes.titlesize": 13,
        "axes.titleweight": "normal",
        "axes.titlelocation": "left",
        "axes.titlecolor": INK,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "xtick.color": MUTED,
        "ytick.color": MUTED,
        "legend.frameon": False,
        "svg.fonttype": "path",
        "svg.hashsalt": "gridledger",
        "pdf.fonttype": 3,
        "axes.unicode_minus": False,
    }


# --- charts ---


def _empty(ax: Axes, title: str) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, label("No data", "无数据"), ha="center", va="center", color=MUTED,
            fontsize=12, transform=ax.transAxes)  # fmt: skip
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _nan(value: float | None) -> float:
    return math.nan if value is None else value * 100


def draw_trend(ax: Axes, data: ReportData) -> None:
    """The three rates and the combined score by month, in percent; gaps for n/a."""
    title = label("Three rates by month", "三率月度趋势")
    series = [
        ("response_in_time_rate", "response", label("Response in time", "响应及时率"), "-"),
        ("on_time_resolution_rate", "resolution", label("On-time resolution", "按期办结率"), "-"),
        ("satisfaction_rate", "satisfaction", label("Satisfaction", "满意率"), "-"),
        ("three_rates_score", "score", label("Three-rates score", "三率综合得分"), "--"),
    ]
    shown = [s for s in series if any(getattr(m, s[0]) is not None for m in data.monthly)]
    if not shown:
        _empty(ax, title)
        return
    x = list(range(len(data.monthly)))
    for key, colour, name, style in shown:
        y = [_nan(getattr(m, key)) for m in data.monthly]
        ax.plot(x, y, style, color=COLOURS[colour], label=name, linewidth=2, marker="o",
                markersize=4)  # fmt: skip
    ax.set_title(title)
    _months_axis(ax, [m.month for m in data.monthly])
    values = [getattr(m, key) for m in data.monthly for key, *_ in shown]
    lowest = min(v for v in values if v is not None) * 100
    ax.set_ylim(max(0, math.floor((lowest - 5) / 10) * 10), 102)  # the range the rates use
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter("{x:.0f}%")
    ax.grid(axis="y", color=GRID)
    ax.set_axisbelow(True)
    ax.legend(loc="lower left", ncols=2, fontsize=9)


def draw_overdue(ax: Axes, data: ReportData) -> None:
    """Overdue responses and resolutions by child jurisdiction, most first."""
    children = top_children(data)
    title = label("Overdue tickets by jurisdiction", "超时工单分布")
    if not children:
        _empty(ax, title)
        return
    y = list(range(len(children)))
    bar = 0.38
    series = (
        ("response_overdue", label("Response overdue", "响应超时")),
        ("resolution_overdue", label("Resolution overdue", "办结超时")),
    )
    for offset, (key, name) in zip((-bar / 2, bar / 2), series, strict=True):
        values = [getattr(c, key) for c in children]
        bars = ax.barh([i + offset for i in y], values, height=bar, color=COLOURS[key],
                       label=name)  # fmt: skip
        ax.bar_label(bars, padding=3, fontsize=8, color=MUTED)
    ax.set_yticks(y, [f"{c.name} ({c.code})" if cjk_font() else c.code for c in children])
    ax.set_ylim(max(len(children), 6) - 0.5, -0.5)  # most first; bars no fatter than 1/6
    ax.set_title(title)
    ax.grid(axis="x", color=GRID)
    ax.set_axisbelow(True)
    cast(MaxNLocator, ax.xaxis.get_major_locator()).set_params(integer=True)  # an AutoLocator
    ax.legend(loc="lower right", fontsize=9)
    if len(data.overdue_by_child) > TOP:
        ax.set_xlabel(label(f"the {TOP} with most overdue, of {len(data.overdue_by_child)}",
                            f"超时最多的 {TOP} 个"), fontsize=8, color=MUTED)  # fmt: skip


def draw_points(ax: Axes, data: ReportData) -> None:
    """Points issued above zero; redeemed, deducted and expired stacked below, by month."""
    title = label("Points flow by month", "积分月度流转")
    if not data.points_flow:
        _empty(ax, title)
        return
    x = list(range(len(data.points_flow)))
    ax.bar(x, [m.issued for m in data.points_flow], color=COLOURS["issued"], width=0.6,
           label=label("Issued", "发放"))  # fmt: skip
    below = [0] * len(x)
    for key, name in (
        ("redeemed", label("Redeemed", "兑换")),
        ("deducted", label("Deducted", "扣减")),
        ("expired", label("Expired", "清零")),
    ):
        values = [-getattr(m, key) for m in data.points_flow]
        ax.bar(x, values, bottom=below, color=COLOURS[key], width=0.6, label=name)
        below = [b + v for b, v in zip(below, values, strict=True)]
    ax.axhline(0, color=MUTED, linewidth=0.8)
    ax.set_ylabel(label("points: in ↑ out ↓", "积分：入 ↑ 出 ↓"), color=MUTED)
    ax.set_title(title)
    _months_axis(ax, [m.month for m in data.points_flow])
    ax.yaxis.set_major_formatter(lambda v, _: f"{abs(v):,.0f}")
    ax.grid(axis="y", color=GRID)
    ax.set_axisbelow(True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9)


def _months_axis(ax: Axes, months: Sequence[date]) -> None:
    ax.set_xticks(range(len(months)), [m.strftime("%Y-%m") for m in months])
    if len(months) > 8:
        ax.tick_params(axis="x", labelrotation=45)


Draw = Callable[[Axes, ReportData], None]
CHARTS: tuple[tuple[str, Draw], ...] = (
    ("trend", draw_trend),
    ("overdue", draw_overdue),
    ("points", draw_points),
)


def chart(draw: Draw, data: ReportData) -> Figure:
    """One chart as a figure of its own (the overdue chart grows with its bars)."""
    height = 4.2
    if draw is draw_overdue:
        height = max(3.0, 0.9 + 0.38 * len(top_children(data)))
    fig = Figure(figsize=(9, height), layout="constrained")
    draw(fig.add_subplot(), data)
    return fig


def svg(fig: Figure) -> str:
    """The figure as an inline <svg> element (no XML prolog)."""
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg") :]


# --- HTML ---
