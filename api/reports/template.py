"""The assessment report's HTML: one file, its CSS and SVG charts inline (see render)."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, StrictUndefined, Template

SOURCE = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="gridledger">
<title>Assessment report · 考核报告 — {{ data.jurisdiction_name }} ({{ data.jurisdiction_code }})
{{ data.start }} – {{ data.end }}</title>
<style>
  :root { --ink: #111827; --muted: #6b7280; --line: #e5e7eb; --band: #f9fafb; }
  * { box-sizing: border-box; }
  body { margin: 0; color: var(--ink); background: #fff;
         font: 15px/1.55 -apple-system, "Segoe UI", "PingFang SC", "Hiragino Sans GB",
               "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; }
  main { max-width: 1000px; margin: 0 auto; padding: 32px 24px 48px; }
  header h1 { margin: 0 0 4px; font-size: 28px; }
  header p { margin: 0; color: var(--muted); }
  h2 { font-size: 19px; margin: 40px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
  .zh { color: var(--muted); font-weight: normal; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr));
           gap: 12px; margin: 24px 0 8px; }
  .card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px;
          border-top: 4px solid var(--accent, var(--ink)); }
  .card .value { font-size: 30px; font-weight: 650; font-variant-numeric: tabular-nums; }
  .card .label, .card .ratio { color: var(--muted); font-size: 13px; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); }
  th { background: var(--band); font-weight: 600; font-size: 13px; }
  td.num, th.num { text-align: right; }
  .na { color: var(--muted); }
  figure { margin: 16px 0; }
  figure svg { width: 100%; height: auto; }
  footer { margin-top: 48px; color: var(--muted); font-size: 13px; }
  footer dt { font-weight: 600; color: var(--ink); }
  footer dd { margin: 0 0 6px; }
  @media print { main { max-width: none; } h2 { break-after: avoid; } figure { break-inside: avoid; } }
</style>
</head>
<body>
<main>
<header>
  <h1>Assessment report <span class="zh">考核报告</span></h1>
  <p><strong>{{ data.jurisdiction_name }}</strong> ({{ data.jurisdiction_code }}) ·
     {{ data.start }} – {{ data.end }} ·
     as of <span class="zh">截至</span> {{ fmt_time(data.as_of) }}</p>
</header>

{%- macro value(v, unit="rate") -%}
  {%- set shown = fmt_value(v, unit) -%}
  {%- if shown == "n/a" %}<span class="na" title="not shown: no cases, or fewer than the minimum">n/a</span>
  {%- else %}{{ shown }}{% endif -%}
{%- endmacro %}

{% set accents = [colours.response, colours.resolution, colours.satisfaction, colours.score] %}
{% set rates = data.headline | selectattr("unit", "in", ["rate", "score"]) | list %}
{% if rates %}
<section class="cards" aria-label="Headline rates">
{% for h in rates[:4] %}
  <div class="card" style="--accent: {{ accents[loop.index0] }}">
    <div class="label">{{ h.label_en }} <span class="zh">{{ h.label_zh }}</span></div>
    <div class="value">{{ value(h.value, h.unit) }}</div>
    <div class="ratio">{{ fmt_ratio(h.numerator, h.denominator) }}</div>
  </div>
{% endfor %}
</section>
{% endif %}

<h2>Headline figures <span class="zh">主要指标</span></h2>
<table id="headline">
  <thead><tr><th>Figure <span class="zh">指标</span></th><th class="num">Value <span class="zh">数值</span></th>
  <th class="num">Cases <span class="zh">分子 / 分母</span></th></tr></thead>
  <tbody>
  {% for h in data.headline %}
    <tr><td>{{ h.label_en }} <span class="zh">{{ h.label_zh }}</span></td>
        <td class="num">{{ value(h.value, h.unit) }}</td>
        <td class="num">{{ fmt_ratio(h.numerator, h.denominator) }}</td></tr>
  {% else %}
    <tr><td colspan="3" class="na">n/a</td></tr>
  {% endfor %}
  </tbody>
</table>

<h2>Three rates by month <span class="zh">三率月度趋势</span></h2>
<figure id="trend">{{ charts.trend | safe }}</figure>
<table id="monthly">
  <thead><tr><th>Month <span class="zh">月份</span></th>
  <th class="num">Response in time <span class="zh">响应及时率</span></th>
  <th class="num">On-time resolution <span class="zh">按期办结率</span></th>
  <th class="num">Satisfaction <span class="zh">满意率</span></th>
  <th class="num">Score <span class="zh">综合得分</span></th></tr></thead>
  <tbody>
  {% for m in data.monthly %}
    <tr><td>{{ m.month.strftime("%Y-%m") }}</td>
        <td class="num">{{ value(m.response_in_time_rate) }}</td>
        <td class="num">{{ value(m.on_time_resolution_rate) }}</td>
        <td class="num">{{ value(m.satisfaction_rate) }}</td>
        <td class="num">{{ value(m.three_rates_score, "score") }}</td></tr>
  {% else %}
    <tr><td colspan="5" class="na">n/a</td></tr>
  {% endfor %}
  </tbody>
</table>

<h2>Overdue tickets by jurisdiction <span class="zh">超时工单分布</span></h2>
<figure id="overdue">{{ charts.overdue | safe }}</figure>
{% if data.overdue_by_child | length > top %}
<p class="zh">The {{ top }} with most overdue tickets of {{ data.overdue_by_child | length }}.
超时最多的 {{ top }} 个。</p>
{% endif %}

<h2>Points flow by month <span class="zh">积分月度流转</span></h2>
<figure id="points">{{ charts.points | safe }}</figure>
<table id="points-flow">
  <thead><tr><th>Month <span class="zh">月份</span></th>
  <th class="num">Issued <span class="zh">发放</span></th><th class="num">Redeemed <span class="zh">兑换</span></th>
  <th class="num">Deducted <span class="zh">扣减</span></th><th class="num">Expired <span class="zh">清零</span></th></tr></thead>
  <tbody>
  {% for p in data.points_flow %}
    <tr><td>{{ p.month.strftime("%Y-%m") }}</td><td class="num">{{ value(p.issued, "points") }}</td>
        <td class="num">{{ value(p.redeemed, "points") }}</td><td class="num">{{ value(p.deducted, "points") }}</td>
        <td class="num">{{ value(p.expired, "points") }}</td></tr>
  {% else %}
    <tr><td colspan="5" class="na">n/a</td></tr>
  {% endfor %}
  </tbody>
</table>

<h2>Workers <span class="zh">网格员与承办人</span></h2>
<table id="workers">
  <thead><tr><th>Name <span class="zh">姓名</span></th><th>Stars <span class="zh">星级</span></th>
  <th class="num">Tickets <span class="zh">工单</span></th><th class="num">Satisfaction <span class="zh">满意率</span></th></tr></thead>
  <tbody>
  {% for w in workers %}
    <tr><td>{{ w.name }}</td><td>{% if w.stars is none %}<span class="na">n/a</span>{% else %}{{ fmt_stars(w.stars) }}{% endif %}</td>
        <td class="num">{{ value(w.tickets, "count") }}</td><td class="num">{{ value(w.satisfaction_rate) }}</td></tr>
  {% else %}
    <tr><td colspan="4" class="na">n/a</td></tr>
  {% endfor %}
  </tbody>
</table>
{% if data.workers | length > top %}<p class="zh">The first {{ top }} of {{ data.workers | length }}, by stars then tickets.</p>{% endif %}

<footer>
  <p><strong>How each figure is defined</strong> <span class="zh">指标定义</span> —
     the formulas in full: <a href="{{ evaluating_url }}">README, “Evaluating”</a>.
     n/a: no cases in the period, or fewer than the minimum case count of the policy.</p>
  <dl>
  {% for en, zh, text in definitions %}
    <dt>{{ en }} <span class="zh">{{ zh }}</span></dt><dd>{{ text }}</dd>
  {% endfor %}
  </dl>
  {% for note in data.notes %}<p>{{ note }}</p>{% endfor %}
  <p>As of <span class="zh">截至</span> {{ fmt_time(data.as_of) }} ·
     projection position <span class="zh">投影位置</span> {{ "{:,}".format(data.position) }} ·
     policy version <span class="zh">口径版本</span> {{ data.policy_version or "n/a" }} ·
     generated <span class="zh">生成于</span> {{ fmt_time(data.generated_at) }} by gridledger.</p>
</footer>
</main>
</body>
</html>
"""


@cache
def template() -> Template:
    environment = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True)  # fmt: skip
    return environment.from_string(SOURCE)
