"""The plan view's HTML: a run's room table and inline plans, and the list of recent runs (every text escaped)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from .view import run_link

__all__ = ["not_found_page", "run_list_page", "run_page"]

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:16px;color:#1a1a1a}
h1{font-size:20px;margin:0 0 4px}
p.meta{color:#444;margin:0 0 12px}
table{border-collapse:collapse;margin:8px 0 20px;width:100%}
th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;white-space:nowrap}
th{background:#f4f4f4;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1b7a2f;font-weight:600}.bad{color:#b3261e;font-weight:600}.warn{color:#8a5a00;font-weight:600}
figure.plan{margin:0 0 28px;border-top:2px solid #eee;padding-top:8px}
figure.plan svg{width:100%;max-width:1400px;height:auto;display:block}
figcaption{margin-bottom:6px}
a{color:#0b57d0}
code{font-size:13px}
"""
_NEW_TAB = 'target="_blank" rel="noopener"'
_XML_PROLOGUE = re.compile(r"^\s*<\?xml[^>]*\?>\s*")


def _doc(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>")


def _num(value: Any, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "–"
    return f"{float(value):.{digits}f}{unit}"


def _status(row: Mapping[str, Any]) -> str:
    css = "ok" if row["compliant"] else "bad" if row["infeasible"] else "warn"
    return f'<span class="{css}">{escape(row["status"])}</span>'


def _regularity(reg: Mapping[str, Any] | None) -> str:
    """``4×4 regular``, or what keeps the array from being regular: symmetry in x/y and the aligned share."""
    if not reg:
        return "–"
    grid = escape(f'{reg.get("columns", "?")}×{reg.get("rows", "?")}')
    if reg.get("regular"):
        return f"{grid} regular"
    parts = [f"{label} {float(reg[key]):.0%}" for label, key in
             (("sym x", "symmetry_x"), ("sym y", "symmetry_y"), ("aligned", "aligned_fraction")) if key in reg]
    return f'{grid} <span class="warn">not regular</span> ({", ".join(parts)})'


def _links(base: str, files: Mapping[str, str]) -> str:
    labels = {"grid": "layout", "report": "report", "svg": "SVG", "luminaire": "luminaire", "dxf": "DXF"}
    return " · ".join(f'<a href="{escape(base)}/files/{escape(run_link(name))}" {_NEW_TAB}>{labels[kind]}</a>'
                      for kind, name in files.items() if kind in labels)


def run_page(data: Mapping[str, Any], svg_text: Callable[[str], str | None]) -> str:
    """The page of one run: counts, the room table, skipped files, then each room's plan inline."""
    run_id = str(data["run_id"])
    base = f"./{run_link(run_id)}"
    skipped: Sequence[Mapping[str, Any]] = data.get("skipped", [])
    meta = (f'Run <code>{escape(run_id)}</code> · {data["rooms"]} rooms, <span class="ok">{data["compliant"]} '
            f'compliant</span>, {data["infeasible"]} infeasible, {len(skipped)} skipped · '
            f'<a href="{escape(base)}/files/summary.json" {_NEW_TAB}>summary.json</a> · '
            f'<a href="../runs">all runs</a>')
    head = ("<tr><th>room</th><th>status</th><th>lights</th><th>diffusers</th><th>detectors</th><th>Em</th>"
            "<th>U0</th><th>worst coverage</th><th>lights model</th><th>array</th><th>files</th></tr>")
    rows = []
    for i, row in enumerate(data["results"]):
        cover = _num(row["worst_coverage_m"], " m")
        if row["worst_coverage_m"] is not None and row["r_cover_m"] is not None:
            cover += f' / {_num(row["r_cover_m"], " m")}'
        rows.append(
            f'<tr data-grid-id="{escape(row["grid_id"])}"><td><a href="#room-{i}">{escape(row["grid_id"])}</a></td>'
            f"<td>{_status(row)}</td><td class=num>{_num(row['lights'], digits=0)}</td>"
            f"<td class=num>{_num(row['air_supply'], digits=0)}</td>"
            f"<td class=num>{_num(row['smoke_detectors'], digits=0)}</td>"
            f"<td class=num>{_num(row['em_lux'], ' lx', 0)}</td><td class=num>{_num(row['u0'])}</td>"
            f"<td class=num>{cover}</td><td>{escape(str(row['models'].get('lights', '–')))}</td>"
            f"<td>{_regularity(row['regularity'])}</td><td>{_links(base, row['files'])}</td></tr>")
    table = f'<table class="rooms">{head}{"".join(rows)}</table>'
    skipped_html = ""
    if skipped:
        items = "".join(f"<li><code>{escape(str(s.get('source', '?')))}</code>: {escape(str(s.get('error', '')))}</li>"
                        for s in skipped)
        skipped_html = f'<h2>Skipped input files</h2><ul class="skipped">{items}</ul>'
    plans = []
    for i, row in enumerate(data["results"]):
        svg_name = row["files"].get("svg")
        svg = svg_text(svg_name) if svg_name else None
        drawing = _XML_PROLOGUE.sub("", svg) if svg else "<p>(no plan drawn)</p>"
        plans.append(f'<figure class="plan" id="room-{i}" data-grid-id="{escape(row["grid_id"])}">'
                     f'<figcaption><strong>{escape(row["grid_id"])}</strong> · {_status(row)} · '
                     f'{_links(base, row["files"])}</figcaption>{drawing}</figure>')
    body = f"<h1>Ceiling plans</h1><p class=meta>{meta}</p>{table}{skipped_html}{''.join(plans)}"
    return _doc(f"Ceiling plans · {run_id}", body)


def run_list_page(runs: Sequence[Mapping[str, Any]]) -> str:
    """The recent runs with their compliant/total counts, newest first."""
    head = "<tr><th>run</th><th>published (UTC)</th><th>compliant / rooms</th><th>infeasible</th><th>skipped</th></tr>"
    rows = []
    for run in runs:
        when = datetime.fromtimestamp(float(run["published_at"]), tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        css = "ok" if run["compliant"] == run["rooms"] and run["rooms"] else "warn"
        rows.append(f'<tr><td><a href="./runs/{escape(run_link(str(run["run_id"])))}">{escape(str(run["run_id"]))}'
                    f'</a></td><td>{when}</td><td class="num {css}">{run["compliant"]} / {run["rooms"]}</td>'
                    f'<td class=num>{run["infeasible"]}</td><td class=num>{run["skipped"]}</td></tr>')
    table = (f'<table class="runs">{head}{"".join(rows)}</table>' if rows
             else "<p>No published runs yet: trigger <code>ceiling_grid_pipeline</code> and come back.</p>")
    return _doc("Ceiling plans · recent runs", f"<h1>Ceiling plans: recent runs</h1>{table}")


def not_found_page(run_id: str) -> str:
    """The page of a run with no published plans (another DAG's run, a failed run, an unknown id)."""
    body = (f"<h1>No ceiling plans for this run</h1><p class=meta>Run <code>{escape(run_id[:250])}</code> has no "
            "published plans. Plans appear here once a run of <code>ceiling_grid_pipeline</code> has finished its "
            "<code>publish</code> task; runs of other DAGs, and runs that failed before publish, have none. "
            '<a href="../runs">All runs with plans</a>.</p>')
    return _doc("Ceiling plans · not found", body)
