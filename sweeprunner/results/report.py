"""``DIR/report.html``: one self-contained page (plotly.js embedded, no network) showing a sweep.

Panels: summary, metric over time, parallel coordinates, parameter importance and correlation,
learning curves (early stops and hyperband bands marked), slice plots and a sortable trial table.
``write_report`` is the one entry point (the CLI, the driver and the Python agent call it).
"""

from __future__ import annotations

import html
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from sweeprunner.results.records import REPORT_HTML
from sweeprunner.results.report_data import (
    CORRELATION_METHOD,
    IMPORTANCE_METHOD,
    SweepData,
    gpus_used,
    importance,
    load_sweep_data,
    param_values,
    timestamp,
    wall_time_s,
)

REPORT_FILE = REPORT_HTML
REFRESH_S = 30
STATUS_COLORS = {"finished": "#1f77b4", "stopped": "#ff7f0e", "errored": "#d62728", "incomplete": "#7f7f7f"}
#: Learning curves past this many points lose per-point hover text (file size).
HOVER_POINTS = 30_000


def _status_label(status: str, running: bool) -> str:
    if status == "incomplete":
        return "running" if running else "incomplete"
    return "stopped early" if status == "stopped" else status


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return "" if value is None else str(value)


# --- figures ---------------------------------------------------------------------------------

def _go() -> Any:
    import plotly.graph_objects as go

    return go


def _layout(fig: Any, title: str, height: int = 420) -> Any:
    fig.update_layout(title=title, height=height, margin={"l": 60, "r": 30, "t": 50, "b": 50}, template="plotly_white",
                      legend={"orientation": "h", "y": -0.18})
    return fig


def metric_over_time(data: SweepData, running: bool) -> Any:
    go = _go()
    fig = go.Figure()
    scored = data.scored.sort_values("start_time")
    for status, group in scored.groupby("status", sort=False):
        fig.add_trace(go.Scatter(
            x=pd.to_datetime(group["start_time"], unit="s"), y=group["best_metric"], mode="markers",
            name=_status_label(status, running), marker={"color": STATUS_COLORS.get(status), "size": 7},
            text=group["trial_id"], hovertemplate="%{text}<br>%{x}<br>%{y:.6g}<extra></extra>"))
    best = scored["best_metric"].cummax() if data.mode == "max" else scored["best_metric"].cummin()
    fig.add_trace(go.Scatter(x=pd.to_datetime(scored["start_time"], unit="s"), y=best, mode="lines", name="best so far",
                             line={"shape": "hv", "color": "#2ca02c", "width": 2}))
    fig.update_xaxes(title="trial start time")
    fig.update_yaxes(title=f"best {data.metric}")
    return _layout(fig, f"{data.metric} over time")


def _axis(data: SweepData, param: Any, frame: pd.DataFrame) -> dict[str, Any]:
    values = param_values(data, param, frame)
    dim: dict[str, Any] = {"label": param.name}
    if param.scale == "category":
        categories = sorted(values.unique())
        index = {c: i for i, c in enumerate(categories)}
        dim.update(values=values.map(index).to_numpy(float), tickvals=list(range(len(categories))), ticktext=categories,
                   range=[-0.2, len(categories) - 0.8] if len(categories) > 1 else [-1, 1])
    elif param.scale == "log":
        logs = np.log10(values.to_numpy(float))
        low, high = math.floor(np.nanmin(logs)), math.ceil(np.nanmax(logs))
        ticks = list(range(low, high + 1))
        dim.update(values=logs, tickvals=ticks, ticktext=[f"1e{t}" for t in ticks], label=f"{param.name} (log)")
    else:
        dim.update(values=values.to_numpy(float))
    return dim


def parallel_coordinates(data: SweepData) -> Any:
    go = _go()
    scored = data.scored
    dims = [_axis(data, p, scored) for p in data.params]
    metric = scored["best_metric"].to_numpy(float)
    dims.append({"label": str(data.metric), "values": metric})
    fig = go.Figure(go.Parcoords(dimensions=dims, line={
        "color": metric, "colorscale": "Viridis", "reversescale": data.mode != "max", "showscale": True,
        "colorbar": {"title": {"text": str(data.metric)}}}))
    _layout(fig, f"Parameters to best {data.metric} (drag along an axis to filter)", height=480)
    return fig.update_layout(margin={"l": 80, "r": 80, "t": 110, "b": 40})


def importance_figure(data: SweepData) -> tuple[Any | None, str]:
    go = _go()
    from plotly.subplots import make_subplots

    scores, correlation, why_not = importance(data)
    names = list(scores) if scores else list(correlation)
    if not names:
        return None, why_not or "no parameter varies"
    names = names[::-1]  # largest at the top
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=("importance (fANOVA)", "correlation"))
    if scores:
        fig.add_trace(go.Bar(x=[scores[n] for n in names], y=names, orientation="h", name="importance",
                             marker_color="#636efa"), row=1, col=1)
    corr = [correlation.get(n) for n in names]
    fig.add_trace(go.Bar(x=[c if c is not None else 0 for c in corr], y=names, orientation="h", name="correlation",
                         marker_color=["#2ca02c" if (c or 0) >= 0 else "#d62728" for c in corr],
                         text=["n/a (categorical)" if c is None else f"{c:+.2f}" for c in corr],
                         textposition=["outside" if c is None else "auto" for c in corr]),
                  row=1, col=2)
    fig.update_xaxes(range=[-1, 1], row=1, col=2)
    note = f"Importance: {IMPORTANCE_METHOD}" + (f" (not shown: {why_not})" if why_not else "")
    note += f". Correlation: {CORRELATION_METHOD}. Both use each trial's best {data.metric} over {len(data.scored)} trials."
    _layout(fig, "Parameter importance", height=max(260, 60 + 40 * len(names)))
    fig.update_layout(showlegend=False)
    return fig, note


def learning_curves(data: SweepData, running: bool) -> Any:
    go = _go()
    fig = go.Figure()
    statuses = dict(zip(data.trials["trial_id"], data.trials["status"], strict=False))
    total_points = sum(len(c) for c in data.curves.values())
    hover = total_points <= HOVER_POINTS
    best_id = data.best["trial_id"] if data.best is not None else None
    by_status: dict[str, list[tuple[str, np.ndarray]]] = {}
    for trial_id, curve in data.curves.items():
        by_status.setdefault(statuses.get(trial_id, "incomplete"), []).append((trial_id, curve))
    opacity = max(0.08, min(0.6, 20 / max(1, len(data.curves))))  # a thousand curves stay readable
    for status, curves in by_status.items():  # one trace per status: None breaks the lines between trials
        xs, ys, texts = [], [], []
        for trial_id, curve in curves:
            xs += [*range(1, len(curve) + 1), None]
            ys += [*curve.tolist(), None]
            if hover:
                texts += [trial_id] * len(curve) + [""]
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", name=_status_label(status, running), opacity=opacity,
            line={"width": 1, "color": STATUS_COLORS.get(status)}, connectgaps=False,
            text=texts if hover else None,
            hovertemplate=("%{text}<br>" if hover else "") + "report %{x}: %{y:.6g}<extra></extra>"))
        ends = [(trial_id, c) for trial_id, c in curves if status in ("stopped", "errored") and len(c)]
        if ends:
            fig.add_trace(go.Scatter(
                x=[len(c) for _, c in ends], y=[float(c[-1]) for _, c in ends], mode="markers",
                name=f"{_status_label(status, running)} here", text=[t for t, _ in ends],
                marker={"symbol": "x" if status == "stopped" else "circle-open", "size": 8,
                        "color": STATUS_COLORS.get(status)},
                hovertemplate="%{text} " + status + " after %{x} reports<extra></extra>"))
    if best_id in data.curves:
        curve = data.curves[best_id]
        fig.add_trace(go.Scatter(x=list(range(1, len(curve) + 1)), y=curve, mode="lines", name=f"best ({best_id})",
                                 line={"width": 3, "color": "#2ca02c"}))
    longest = max((len(c) for c in data.curves.values()), default=0)
    for band in data.bands:
        if band <= longest:
            fig.add_vline(x=band, line={"dash": "dot", "color": "#888"}, annotation_text=f"band {band}",
                          annotation_position="top")
    fig.update_xaxes(title=f"reports of {data.metric}")
    fig.update_yaxes(title=str(data.metric))
    title = "Learning curves" + (" (hyperband bands dotted)" if data.bands else "")
    return _layout(fig, title, height=460)


def slice_plots(data: SweepData) -> Any:
    go = _go()
    from plotly.subplots import make_subplots

    params = data.params
    cols = min(3, len(params))
    rows = math.ceil(len(params) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[p.name for p in params], vertical_spacing=0.5 / rows)
    scored = data.scored
    order = scored["start_time"].rank().to_numpy(float)
    for i, param in enumerate(params):
        row, col = divmod(i, cols)
        fig.add_trace(go.Scatter(
            x=param_values(data, param), y=scored["best_metric"], mode="markers", text=scored["trial_id"],
            marker={"color": order, "colorscale": "Viridis", "size": 6, "showscale": i == 0,
                    "colorbar": {"title": {"text": "trial #"}, "len": min(1.0, 1.2 / rows), "y": 1, "yanchor": "top"}},
            hovertemplate="%{text}<br>%{x}<br>%{y:.6g}<extra></extra>", showlegend=False), row=row + 1, col=col + 1)
        xaxis = {"title": param.name}
        if param.scale == "log":
            xaxis["type"] = "log"
        elif param.scale == "category":
            xaxis["type"] = "category"
        fig.update_xaxes(**xaxis, row=row + 1, col=col + 1)
        fig.update_yaxes(title=str(data.metric) if col == 0 else None, row=row + 1, col=col + 1)
    return _layout(fig, "Slice plots: best metric against each parameter", height=320 * rows + 60)


# --- HTML ------------------------------------------------------------------------------------

def _summary(data: SweepData, running: bool) -> str:
    trials = data.trials
    counts = trials["status"].value_counts().to_dict() if not trials.empty else {}
    count_text = ", ".join(f"{n} {_status_label(s, running)}" for s, n in counts.items()) or "none yet"
    gpus = gpus_used(trials) if not trials.empty else []
    rows = [("sweep", f"{data.name} ({data.method}{', ' + data.early_terminate if data.early_terminate else ''})"),
            ("directory", str(data.sweep_dir)),
            ("metric", f"{data.metric} ({'maximize' if data.mode == 'max' else 'minimize'})" if data.metric else "none"),
            ("trials", f"{len(trials)}: {count_text}"),
            ("wall time", f"{wall_time_s(trials):.1f} s" + (f" (trial time summed: {trials['wall_time_s'].sum():.1f} s)"
                                                         if not trials.empty else "")),
            ("GPUs used", ", ".join(gpus) if gpus else "none (CPU only)")]
    best = data.best
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    if best is not None:
        config = {c.removeprefix("config."): best[c] for c in data.trials.columns if c.startswith("config.")}
        config_text = "<br>".join(f"{html.escape(k)}: <b>{html.escape(_fmt(v))}</b>" for k, v in config.items())
        body += (f"<tr><th>best trial</th><td>{html.escape(best['trial_id'])}: {html.escape(str(data.metric))} = "
                 f"<b>{best['best_metric']:.6g}</b></td></tr><tr><th>best config</th><td>{config_text}</td></tr>")
    table = f"<table class='summary'>{body}</table>"
    if best is None:
        reason = ("no trial has started yet" if trials.empty else
                  f"no trial reported the metric {data.metric}" if data.metric else "the sweep has no metric")
        table += (f"<p class='warn'>No successful trial: {html.escape(reason)}. The plots need trials that report "
                  "the metric; the table below shows each trial's status and error.</p>")
    return table


def _links(data: SweepData, row: pd.Series) -> str:
    links = [f"<a href='{RECORDS_REL}/{quote(row['trial_id'])}.jsonl'>results</a>"]
    trial_dir = row.get("trial_dir")
    if isinstance(trial_dir, str) and trial_dir:
        base = quote(trial_dir)
        links.insert(0, f"<a href='{base}/'>dir</a>")
        for name in ("error.txt", "stdout.log", "stderr.log"):
            if (data.sweep_dir / trial_dir / name).is_file():
                links.append(f"<a href='{base}/{name}'>{name}</a>")
    return " ".join(links)


RECORDS_REL = "trials"


def _trial_table(data: SweepData, running: bool) -> str:
    trials = data.trials
    if trials.empty:
        return "<p>No trials yet.</p>"
    param_cols = [p.column for p in data.params]
    heads = ["trial", "status", "reports", f"best {data.metric}", "final", "time (s)", "started", "node", "GPUs",
             *[c.removeprefix("config.") for c in param_cols], "error", "files"]
    out = ["<table id='trials' class='trials'><thead><tr>",
           *(f"<th onclick='sortTable({i})'>{html.escape(h)}</th>" for i, h in enumerate(heads)), "</tr></thead><tbody>"]
    for _, row in trials.iterrows():
        error = str(row.get("error") or "").strip().splitlines() if row["status"] == "errored" else []
        cells = [(row["trial_id"], None), (_status_label(row["status"], running), None),
                 (row["iterations"], row["iterations"]), (_fmt(row["best_metric"]), row["best_metric"]),
                 (_fmt(row["final_metric"]), row["final_metric"]), (_fmt(row["wall_time_s"]), row["wall_time_s"]),
                 (timestamp(row["start_time"]), row["start_time"]), (_fmt(row.get("node")), None),
                 (_fmt(row.get("gpu_ids")), None), *((_fmt(row[c]), row[c] if isinstance(row[c], int | float) else None)
                                                     for c in param_cols),
                 (error[0] if error else "", None)]
        tds = []
        for text, sort in cells:
            key = "" if sort is None or (isinstance(sort, float) and math.isnan(sort)) else f" data-v='{float(sort)!r}'"
            tds.append(f"<td{key}>{html.escape(str(text))}</td>")
        tds.append(f"<td>{_links(data, row)}</td>")
        out.append(f"<tr class='{html.escape(str(row['status']))}'>{''.join(tds)}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


STYLE = """body{font-family:system-ui,sans-serif;margin:20px;color:#222}h1{margin-bottom:4px}
.sub{color:#666;margin-top:0}.panel{margin:18px 0;border-top:1px solid #ddd;padding-top:8px}
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;
vertical-align:top}table.summary th{width:140px;color:#555}table.trials th{cursor:pointer;background:#f4f4f4;
position:sticky;top:0}tr.errored td{background:#fdecea}tr.stopped td{color:#8a5200}.warn{color:#b00;font-weight:bold}
.note{color:#555;font-size:13px}.banner{background:#fff6d5;padding:6px 10px}"""

SORT_JS = """window.addEventListener('load',()=>document.body.setAttribute('data-load-ms',Math.round(performance.now())));
function sortTable(col){const t=document.getElementById('trials'),b=t.tBodies[0];
const rows=Array.from(b.rows);const asc=t.dataset.col==String(col)?t.dataset.dir!=='asc':true;
t.dataset.col=col;t.dataset.dir=asc?'asc':'desc';rows.sort((r1,r2)=>{const a=r1.cells[col],c=r2.cells[col];
const x=a.dataset.v,y=c.dataset.v;let d;if(x!==undefined&&y!==undefined){d=parseFloat(x)-parseFloat(y);}
else if(x!==undefined){return -1;}else if(y!==undefined){return 1;}else{d=a.textContent.localeCompare(c.textContent);}
return asc?d:-d;});rows.forEach(r=>b.appendChild(r));}"""


def render_report(data: SweepData, *, running: bool = False) -> str:
    """The whole page as one string."""
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    config = {"displaylogo": False, "responsive": True}
    panels: list[str] = []

    def panel(title: str, fig: Any, note: str = "") -> None:
        div = pio.to_html(fig, full_html=False, include_plotlyjs=False, config=config, validate=False,
                          div_id=f"plot-{len(panels)}") if fig is not None else ""
        note_html = f"<p class='note'>{html.escape(note)}</p>" if note else ""
        panels.append(f"<div class='panel'><h2>{html.escape(title)}</h2>{note_html}{div}</div>")

    if data.best is not None:
        panel("Metric over time", metric_over_time(data, running),
              f"Each trial's best {data.metric} at the time it started; the line is the best so far.")
        if data.params:
            panel("Parallel coordinates", parallel_coordinates(data),
                  "Categorical parameters are listed by value; log-scale parameters are on log10 axes.")
            fig, note = importance_figure(data)
            panel("Parameter importance", fig, note)
        panel("Learning curves", learning_curves(data, running),
              f"Every trial's {data.metric} per report; x marks where early stopping ended a trial, "
              "o where a trial errored.")
        if data.params:
            panel("Slice plots", slice_plots(data), "One per parameter; colour is the trial's start order.")
    refresh = f"<meta http-equiv='refresh' content='{REFRESH_S}'>" if running else ""
    state = (f"sweep running: this page reloads every {REFRESH_S} s" if running else "a snapshot: the sweep ended or was interrupted, or this was written by `sweeprunner report`")
    head = (f"<!DOCTYPE html><html><head><meta charset='utf-8'>{refresh}<title>sweep {html.escape(data.name)}</title>"
            f"<style>{STYLE}</style><script>{get_plotlyjs()}</script><script>{SORT_JS}</script></head><body>")
    intro = (f"<h1>Sweep {html.escape(data.name)}</h1><p class='sub'>written {timestamp(time.time())}; "
             f"<span class='banner'>{html.escape(state)}</span>. Files: <a href='results.csv'>results.csv</a>, "
             "<a href='histories.csv'>histories.csv</a>. TensorBoard: <code>tensorboard --logdir "
             f"{html.escape(str(data.sweep_dir))}</code></p>")
    summary = f"<div class='panel'><h2>Summary</h2>{_summary(data, running)}</div>"
    table = (f"<div class='panel'><h2>Trials</h2><p class='note'>Click a column to sort. Links are relative to "
             f"this file.</p>{_trial_table(data, running)}</div>")
    return head + intro + summary + "".join(panels) + table + "</body></html>"


def write_report(sweep_dir: str | Path, *, running: bool = False) -> Path:
    """Write ``sweep_dir/report.html`` atomically (temp file + rename) and return its path."""
    sweep_dir = Path(sweep_dir)
    text = render_report(load_sweep_data(sweep_dir), running=running)
    target = sweep_dir / REPORT_FILE
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=sweep_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
