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

from matplotlib import rc_context
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from api.reports.charts import (
    CHARTS,
    COLOURS,
    GRID,
    INK,
    MUTED,
    Draw,
    chart,
    chart_style,
    cjk_font,
    label,
    svg,
)
from api.reports.model import (
    EVALUATING_URL,
    NA,
    TOP,
    ChildOverdue,
    Headline,
    Month,
    PointsMonth,
    ReportData,
    Worker,
    fmt_ratio,
    fmt_stars,
    fmt_time,
    fmt_value,
    top_children,
    top_workers,
)

__all__ = [
    "PDF_PAGES",
    "ChildOverdue",
    "Headline",
    "Month",
    "PointsMonth",
    "ReportData",
    "Worker",
    "cjk_font",
    "fmt_value",
    "render_html",
    "render_pdf",
]

PDF_PAGES = 5


def render_html(data: ReportData) -> str:
    """The report as one self-contained HTML document (inline CSS and SVG)."""
    from api.reports.template import template

    with rc_context(chart_style()):
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
    with rc_context(chart_style()):
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
