"""The assessment report from a hand-built ReportData: the HTML holds its SVG charts and
every figure, the PDF has its pages, and what is missing shows as "n/a"."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from api.reports.render import (
    PDF_PAGES,
    ChildOverdue,
    Headline,
    Month,
    PointsMonth,
    ReportData,
    Worker,
    cjk_font,
    fmt_value,
    render_html,
    render_pdf,
)


def report(**changes: object) -> ReportData:
    fields: dict[str, object] = {
        "jurisdiction_code": "HG-WH",
        "jurisdiction_name": "文化路街道",
        "start": date(2026, 1, 1),
        "end": date(2026, 3, 31),
        "as_of": datetime(2026, 4, 1, 0, 0, tzinfo=UTC),
        "position": 123_456,
        "policy_version": "v2",
        "headline": [
            Headline("Tickets received", "受理工单", 1234, unit="count"),
            Headline("Response in time", "响应及时率", 0.962, 1187, 1234),
            Headline("Satisfaction", "满意率", None, 3, 4),
        ],
        "monthly": [
            Month(date(2026, 1, 1), 0.95, 0.9, 0.875, 0.91),
            Month(date(2026, 2, 1), None, None, None, None),  # a month without enough cases
            Month(date(2026, 3, 1), 0.97, None, 0.8, None),
        ],
        "overdue_by_child": [
            ChildOverdue("HG-WH-BH", "北环社区", 4, 2),
            ChildOverdue("HG-WH-NS", "南山社区", 0, 7),
        ],
        "points_flow": [
            PointsMonth(date(2026, 1, 1), 4200, 1300, 40, 0),
            PointsMonth(date(2026, 3, 1), 3900, 1100, 20, 900),
        ],
        "workers": [
            Worker("网格员 <张三>", 5, 48, 0.96),
            Worker("北环社区居委会", None, 12, None),
        ],
        "notes": ["Assembled for the test."],
    }
    fields.update(changes)
    return ReportData(**fields)  # type: ignore[arg-type]  # fields of mixed types, changed per test


def pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))


def test_the_html_holds_three_inline_svg_charts_and_every_figure() -> None:
    html = render_html(report())
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<svg") == 3
    assert "<?xml" not in html and "<img" not in html and "src=" not in html  # self-contained
    for shown in ("96.2%", "1,187 / 1,234", "1,234", "95.0%", "87.5%", "4,200", "1,300"):
        assert shown in html, shown
    assert '<td class="num">900</td>' in html  # March's expiry (not the 900 of "3,900")
    assert "文化路街道" in html and "HG-WH" in html and "2026-01-01" in html
    assert 'href="README.md#evaluating"' in html
    assert "123,456" in html and "v2" in html and "2026-04-01 08:00:00 +0800" in html
    assert "Assembled for the test." in html
    assert "网格员 &lt;张三&gt;" in html and "<张三>" not in html  # names are escaped
    assert "★★★★★" in html


def test_missing_figures_show_as_n_a_never_as_zero() -> None:
    html = render_html(report())
    satisfaction = re.search(r"<td>Satisfaction.*?</tr>", html, re.S)
    assert satisfaction is not None and ">n/a<" in satisfaction.group(0)
    february = re.search(r"<td>2026-02</td>(.*?)</tr>", html, re.S)
    assert february is not None and february.group(1).count(">n/a<") == 4
    assert fmt_value(None) == "n/a" and fmt_value(float("nan")) == "n/a"
    assert fmt_value(0.0) == "0.0%" and fmt_value(0, "count") == "0"


def test_an_empty_period_renders_with_n_a_everywhere() -> None:
    empty = report(
        headline=[Headline("Response in time", "响应及时率", None, 0, 0)],
        monthly=[Month(date(2026, 1, 1), None, None, None, None)],
        overdue_by_child=[],
        points_flow=[],
        workers=[],
        as_of=None,
        policy_version=None,
    )
    html = render_html(empty)
    assert html.count("<svg") == 3
    assert "now / 当前" in html
    assert html.count(">n/a<") >= 6
    pdf = render_pdf(empty)
    assert pdf.startswith(b"%PDF") and pages(pdf) == PDF_PAGES
    nothing = report(headline=[], monthly=[], overdue_by_child=[], points_flow=[], workers=[])
    assert render_html(nothing).count("<svg") == 3
    assert pages(render_pdf(nothing)) == PDF_PAGES


def test_the_pdf_has_its_pages_and_embeds_a_chinese_font() -> None:
    many = report(
        overdue_by_child=[ChildOverdue(f"G{i:03d}", f"网格{i}", i % 5, i % 3) for i in range(60)],
        workers=[Worker(f"网格员{i}", i % 5 + 1, i, 0.9) for i in range(80)],
    )
    pdf = render_pdf(many)
    assert pdf.startswith(b"%PDF-")
    assert pages(pdf) == PDF_PAGES
    assert cjk_font() is not None  # the packaged Noto Sans CJK, on a clean checkout too
    assert re.search(rb"/BaseFont /\w+\+NotoSans", pdf)
    html = render_html(many)
    assert "of 60" in html and "of 80" in html  # the first 15 shown, and said so
