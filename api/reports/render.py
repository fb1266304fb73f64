"""The assessment report (考核报告): one self-contained HTML file, or a PDF, with charts.

`render_html(data)` and `render_pdf(data)` take a `ReportData`, plain values assembled
elsewhere (`api.reports.data`), and draw with matplotlib's `Figure` directly (never
pyplot, so no GUI backend is loaded and nothing global is shared between reports):

- the headline figures, each with its numerator and denominator;
- the trend of the three rates (response in time, on-time resolution, satisfaction)
  and the combined score, by month;
- overdue tickets by child jurisdiction (grid, community or street);
- points issued above the line, redeemed, deducted and expired below it, by month;
- the workers' table; and a footnote defining every figure (README "Evaluating"),
  with the projection position and as_of the figures reflect.

A figure that is None (a rate below the minimum case count, a month without tickets)
is shown as "n/a", and a missing point in a chart is a gap in its line, never a zero.

Chinese labels need a CJK font: a system one (fonts-noto-cjk, WenQuanYi) if installed,
else Noto Sans CJK from the `noto-cjk-sans-jp-regular` package (a dependency, so a clean
checkout has it). Without either, chart labels fall back to English only. The SVG charts
carry their glyphs as paths, so the HTML shows them on any machine; the PDF embeds the
subset of the font it uses.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, NamedTuple, cast

from matplotlib import font_manager, rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.ticker import MaxNLocator
from matplotlib.typing import RcKeyType

from domain.calendar import LOCAL_TZ

EVALUATING_URL = "README.md#evaluating"
NA = "n/a"
TOP = 15
"""Children in the overdue chart, workers in the table: the first so many."""
PDF_PAGES = 5
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


class Headline(NamedTuple):
    label_en: str
    label_zh: str
    value: float | int | None
    numerator: int | None = None
    denominator: int | None = None
    unit: str = "rate"
    """rate (a fraction, shown as a percentage), count, points, hours or score."""


class Month(NamedTuple):
    month: date
    """The first day of the month."""
    response_in_time_rate: float | None
    on_time_resolution_rate: float | None
    satisfaction_rate: float | None
    three_rates_score: float | None
    """A fraction in [0, 1], like the rates (the weighted mean of the three)."""


class ChildOverdue(NamedTuple):
    code: str
    name: str
    response_overdue: int
    resolution_overdue: int


class PointsMonth(NamedTuple):
    month: date
    issued: int
    redeemed: int
    deducted: int
    expired: int


class Worker(NamedTuple):
    name: str
    stars: int | None
    tickets: int
    satisfaction_rate: float | None


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows, as plain values."""

    jurisdiction_code: str
    jurisdiction_name: str
    start: date
    end: date
    """The period's last day (inclusive)."""
    as_of: datetime | None
    """The record as it stood then; None: as it stands now."""
    position: int
    """The projection position the figures reflect."""
    policy_version: str | None
    headline: Sequence[Headline]
    monthly: Sequence[Month]
    overdue_by_child: Sequence[ChildOverdue]
    points_flow: Sequence[PointsMonth]
    workers: Sequence[Worker]
    notes: Sequence[str] = ()
    """Further lines for the footnote (how the figures were assembled)."""
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


# --- formatting ---


def fmt_value(value: float | int | None, unit: str = "rate") -> str:
    """A figure as shown: rates as percentages, counts with separators, None as n/a."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NA
    if unit in ("rate", "score"):
        return f"{value * 100:.1f}%"
    if unit == "hours":
        return f"{value:,.1f}"
    return f"{int(value):,}"


def fmt_ratio(numerator: int | None, denominator: int | None) -> str:
    if numerator is None or denominator is None:
        return ""
    return f"{numerator:,} / {denominator:,}"


def fmt_stars(stars: int | None) -> str:
    return NA if stars is None else "★" * stars + "☆" * (5 - stars)


def fmt_time(moment: datetime | None) -> str:
    if moment is None:
        return "now / 当前"
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S %z")


def top_children(data: ReportData) -> list[ChildOverdue]:
    ranked = sorted(
        data.overdue_by_child,
        key=lambda c: (-(c.response_overdue + c.resolution_overdue), c.code),
    )
    return ranked[:TOP]


def top_workers(data: ReportData) -> list[Worker]:
    ranked = sorted(data.workers, key=lambda w: (-(w.stars or 0), -w.tickets, w.name))
    return ranked[:TOP]


# --- fonts and labels ---


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


def _style() -> dict[RcKeyType, Any]:
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


def render_html(data: ReportData) -> str:
    """The report as one self-contained HTML document (inline CSS and SVG)."""
    from api.reports.template import template

    with rc_context(_style()):
        charts = {name: svg(chart(draw, data)) for name, draw in CHARTS}
    return template().render(
        data=data,
        charts=charts,
        children=top_children(data),
        workers=top_workers(data),
        top=TOP,
        fmt_value=fmt_value,
        fmt_ratio=fmt_ratio,
        fmt_stars=fmt_stars,
        fmt_time=fmt_time,
        evaluating_url=EVALUATING_URL,
        colours=COLOURS,
        definitions=DEFINITIONS,
    )


DEFINITIONS = (
    ("Response in time", "响应及时率",
     "dispatched tickets first responded by their response deadline / tickets dispatched"),
    ("On-time resolution", "按期办结率",
     "tickets resolved by their resolution deadline / tickets resolved or past their "
     "resolution deadline"),
    ("Satisfaction", "满意率",
     "(satisfied + k × basically satisfied) / rated tickets"),
    ("Three-rates score", "三率综合得分",
     "the weighted mean of the three rates (weights of the policy version)"),
    ("Overdue", "超时", "tickets whose response or resolution deadline passed unmet"),
    ("Points issued, redeemed, deducted, expired", "积分发放、兑换、扣减、清零",
     "the double-entry postings of the period, net of reversals"),
)  # fmt: skip


# --- PDF ---


def render_pdf(data: ReportData) -> bytes:
    """The report as a PDF of `PDF_PAGES` A4 landscape pages."""
    out = io.BytesIO()
    with rc_context(_style()):
        metadata = {
            "Title": f"Assessment report {data.jurisdiction_code} {data.start}..{data.end}",
            "Creator": "gridledger",
            "CreationDate": None,
        }
        with PdfPages(out, metadata=metadata) as pdf:
            for page in pdf_pages(data):
                pdf.savefig(page)
    return out.getvalue()


def pdf_pages(data: ReportData) -> list[Figure]:
    """The PDF's pages as figures (drawn under the report's style)."""
    pages = [_cover_page(data)]
    pages += [_chart_page(data, n, draw) for n, (_, draw) in enumerate(CHARTS, start=2)]
    pages.append(_workers_page(data))
    return pages


A4_LANDSCAPE = (11.69, 8.27)


def _page(data: ReportData, number: int) -> Figure:
    page = Figure(figsize=A4_LANDSCAPE)
    page.text(0.04, 0.965, label("Assessment report", "考核报告")
              + f"  {data.jurisdiction_code}", fontsize=9, color=MUTED)  # fmt: skip
    page.text(0.96, 0.965, f"{data.start} – {data.end}   {number} / {PDF_PAGES}",
              fontsize=9, color=MUTED, ha="right")  # fmt: skip
    page.text(0.04, 0.025, _provenance(data), fontsize=7.5, color=MUTED)
    return page


def _provenance(data: ReportData) -> str:
    return (
        f"as of {fmt_time(data.as_of)} · projection position {data.position:,} · "
        f"policy {data.policy_version or NA} · generated {fmt_time(data.generated_at)} · "
        f"definitions: {EVALUATING_URL}"
    )


def _cover_page(data: ReportData) -> Figure:
    page = _page(data, 1)
    name = data.jurisdiction_name if cjk_font() else data.jurisdiction_code
    page.text(0.04, 0.88, label("Assessment report", "考核报告"), fontsize=22,
              color=INK)  # fmt: skip
    page.text(0.04, 0.83, f"{name} ({data.jurisdiction_code})   {data.start} – {data.end}",
              fontsize=13, color=INK)  # fmt: skip
    rows = [
        [label(h.label_en, h.label_zh), fmt_value(h.value, h.unit),
         fmt_ratio(h.numerator, h.denominator)]
        for h in data.headline
    ]  # fmt: skip
    ax = page.add_axes((0.04, 0.08, 0.92, 0.7))
    ax.axis("off")
    if not rows:
        ax.text(0.5, 0.5, label("No data", "无数据"), ha="center", color=MUTED)
        return page
    header = [label("Figure", "指标"), label("Value", "数值"), label("Cases", "分子 / 分母")]
    table = ax.table(cellText=rows, colLabels=header, loc="upper left", cellLoc="left",
                     colWidths=[0.5, 0.2, 0.3])  # fmt: skip
    table.auto_set_font_size(False)
    table.set_fontsize(10)
    table.scale(1, 1.5)
    for (row, _), cell in table.get_celld().items():
        cell.set_edgecolor(GRID)
        if row == 0:
            cell.set_text_props(color=INK)
            cell.set_facecolor("#f3f4f6")
    return page


def _chart_page(data: ReportData, number: int, draw: Draw) -> Figure:
    """A page holding one chart, laid out between the page's header and footer."""
    page = _page(data, number)
    page.set_layout_engine(ConstrainedLayoutEngine(rect=(0.03, 0.06, 0.94, 0.87)))
    draw(page.add_subplot(), data)
    return page


def _workers_page(data: ReportData) -> Figure:
    page = _page(data, PDF_PAGES)
    page.text(0.04, 0.9, label("Workers", "网格员与承办人"), fontsize=14,
              color=INK)  # fmt: skip
    workers = top_workers(data)
    ax = page.add_axes((0.04, 0.42, 0.92, 0.46))
    ax.axis("off")
    if workers:
        rows = [
            [w.name if cjk_font() else w.name.encode("ascii", "replace").decode(),
             fmt_stars(w.stars) if cjk_font() else (NA if w.stars is None else f"{w.stars}/5"),
             f"{w.tickets:,}", fmt_value(w.satisfaction_rate)]
            for w in workers
        ]  # fmt: skip
        header = [label("Name", "姓名"), label("Stars", "星级"), label("Tickets", "工单"),
                  label("Satisfaction", "满意率")]  # fmt: skip
        table = ax.table(cellText=rows, colLabels=header, loc="upper left", cellLoc="left")
        table.auto_set_font_size(False)
        table.set_fontsize(8)
        for (row, _), cell in table.get_celld().items():
            cell.set_edgecolor(GRID)
            if row == 0:
                cell.set_text_props(color=INK)
                cell.set_facecolor("#f3f4f6")
    else:
        ax.text(0.5, 0.5, label("No data", "无数据"), ha="center", color=MUTED)
    lines = [label("How each figure is defined", "指标定义")]
    lines += [f"{label(en, zh)}: {text}" for en, zh, text in DEFINITIONS]
    lines += list(data.notes)
    page.text(0.04, 0.38, "\n".join(lines), fontsize=8, color=INK, va="top", linespacing=1.6)
    return page
