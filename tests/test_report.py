"""report.html: built from real sweeps and synthetic sweep directories, checked as HTML and in headless Chromium."""

from __future__ import annotations

import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.report_size import chromium, load_in_chromium, synthetic_sweep
from sweeprunner.config.parse import parse_sweep
from sweeprunner.results import write_report
from sweeprunner.results.report import REPORT_FILE
from sweeprunner.results.report_data import load_sweep_data
from sweeprunner.run.launch import LaunchOptions, run_sweep

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
QUIET = LaunchOptions(quiet=True)
needs_chromium = pytest.mark.skipif(chromium() is None, reason="chromium is not installed (make browser installs it)")


def plot_divs(page: str) -> list[str]:
    return re.findall(r'<div id="(plot-\d+)" class="plotly-graph-div"', page)


def real_sweep(tmp_path: Path, method: str = "random", **extra) -> Path:
    """A small real sweep of the toy trainable: nested and log parameters, one errored trial, hyperband."""
    parameters = {"lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1.0},
                  "opt": {"parameters": {"kind": {"values": ["adam", "sgd"]}, "momentum": {"min": 0.0, "max": 1.0}}},
                  "fail_at_epoch": {"values": [2, 99, 99]}, "epochs": {"value": 5}, "sleep": {"value": 0.02}}
    if method == "grid":
        parameters = {"lr": {"values": [1e-3, 1e-1]}, "opt": {"parameters": {"kind": {"values": ["adam", "sgd"]}}},
                      "epochs": {"value": 3}}
    raw = {"method": method, "metric": {"name": "loss", "goal": "minimize"}, "parameters": parameters,
           "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 3},
           "sweeprunner": {"trainable": "toy", "storage": str(tmp_path / "out"), "seed": 1}, **extra}
    if method != "grid":
        raw["run_cap"] = 7
    run_sweep(parse_sweep(raw), options=QUIET)
    return tmp_path / "out"


@pytest.fixture(scope="module")
def random_sweep(ray_session, tmp_path_factory):
    return real_sweep(tmp_path_factory.mktemp("random"))


# --- real sweeps ------------------------------------------------------------------------------

def test_run_writes_the_report_with_every_panel(random_sweep):
    page = (random_sweep / REPORT_FILE).read_text()
    assert len(plot_divs(page)) == 5  # metric over time, parallel coordinates, importance, curves, slices
    for title in ("Summary", "Metric over time", "Parallel coordinates", "Parameter importance", "Learning curves",
                  "Slice plots", "Trials"):
        assert f"<h2>{title}</h2>" in page
    assert "fANOVA (optuna.importance.FanovaImportanceEvaluator" in page and "Pearson" in page
    assert "opt.kind" in page and "opt.momentum" in page  # nested names
    assert "lr (log)" in page  # log scale axis in the parallel coordinates
    assert "RuntimeError: toy trainable: fail_at_epoch=2" in page  # the errored trial's error line
    assert "error.txt" in page  # and a link to its error file
    assert "a snapshot: the sweep ended" in page and "http-equiv='refresh'" not in page
    assert not list(random_sweep.glob(".report-*"))  # the temp file was renamed into place


def test_report_links_point_at_real_files(random_sweep):
    page = (random_sweep / REPORT_FILE).read_text()
    assert "<script src" not in page and "<link" not in page  # nothing loaded from elsewhere: works offline
    hrefs = re.findall(r"href='([^']+)'", page.split("</head>", 1)[1])
    assert len(hrefs) > 10
    from urllib.parse import unquote

    for href in hrefs:
        assert (random_sweep / unquote(href)).exists(), href


def test_learning_curves_mark_stops_and_draw_hyperband_bands(random_sweep):
    data = load_sweep_data(random_sweep)
    assert data.bands[:2] == (1, 3)
    stopped = data.trials[data.trials["status"] == "stopped"]
    assert len(stopped) >= 1
    page = (random_sweep / REPORT_FILE).read_text()
    assert "band 1" in page and "band 3" in page
    assert "stopped early here" in page  # the marker trace at the end of each stopped trial's curve
    assert "errored here" in page


def test_cli_report_rewrites_the_page(random_sweep):
    before = (random_sweep / REPORT_FILE).stat().st_mtime_ns
    out = subprocess.run([sys.executable, "-m", "sweeprunner", "report", str(random_sweep)], cwd=REPO, env=ENV,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(random_sweep / REPORT_FILE)
    assert (random_sweep / REPORT_FILE).stat().st_mtime_ns > before


def test_cli_report_of_a_non_sweep_directory_exits_2(tmp_path):
    out = subprocess.run([sys.executable, "-m", "sweeprunner", "report", str(tmp_path)], cwd=REPO, env=ENV,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert f"directory: {tmp_path} is not a sweeprunner sweep directory" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("method", ["grid", "bayes"])
def test_grid_and_bayes_sweeps_get_a_report(ray_session, tmp_path, method):
    sweep_dir = real_sweep(tmp_path, method, **({"run_cap": 4} if method == "bayes" else {}))
    page = (sweep_dir / REPORT_FILE).read_text()
    assert len(plot_divs(page)) == 5
    assert f"({method}, hyperband)" in page


def test_tensorboard_hparams_hold_the_parameters_and_the_metric(random_sweep):
    from tensorboardX.proto import event_pb2, plugin_hparams_pb2

    hparams, metrics = set(), set()
    files = list(random_sweep.glob("*/events.out.tfevents.*"))
    assert files
    for path in files:
        data, i = path.read_bytes(), 0
        while i < len(data):  # TFRecord: length, crc, payload, crc
            (n,) = struct.unpack("<Q", data[i:i + 8])
            event = event_pb2.Event.FromString(data[i + 12:i + 12 + n])
            i += 16 + n
            for value in event.summary.value:
                if value.tag == "_hparams_/experiment":
                    plugin = plugin_hparams_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
                    hparams |= {h.name for h in plugin.experiment.hparam_infos}
                    metrics |= {m.name.tag for m in plugin.experiment.metric_infos}
    assert {"lr", "opt/kind", "opt/momentum"} <= hparams
    assert "ray/tune/loss" in metrics


# --- synthetic sweep directories -------------------------------------------------------------

def test_no_successful_trial_gives_a_clear_page(tmp_path):
    sweep = synthetic_sweep(tmp_path / "s", trials=3, reports=5, errored=3, incomplete=0)
    for path in (sweep / "trials").glob("*.jsonl"):
        path.write_text("")  # they errored before reporting anything
    page = write_report(sweep).read_text()
    assert "No successful trial: no trial reported the metric val/loss" in page
    assert plot_divs(page) == []
    assert page.count("CUDA out of memory") == 3


def test_two_trials_and_a_sweep_without_metric_get_pages_that_say_what_is_missing(tmp_path):
    two = write_report(synthetic_sweep(tmp_path / "two", trials=2, reports=4, errored=0, incomplete=0)).read_text()
    assert len(plot_divs(two)) == 4 and "importance and correlation need at least 3 trials" in two
    sweep = synthetic_sweep(tmp_path / "none", trials=3, reports=4)
    info = json.loads((sweep / "sweeprunner.json").read_text())
    del info["config"]["metric"]
    (sweep / "sweeprunner.json").write_text(json.dumps({**info, "metric": None, "mode": None}))
    page = write_report(sweep).read_text()
    assert "No successful trial: the sweep has no metric" in page and plot_divs(page) == []


def test_an_interrupted_sweep_shows_incomplete_trials(tmp_path):
    sweep = synthetic_sweep(tmp_path / "s", trials=12, reports=9, errored=1, incomplete=3)
    page = write_report(sweep).read_text()
    assert page.count("<td>incomplete</td>") == 3
    assert "3 incomplete" in page and "1 errored" in page
    running = write_report(sweep, running=True).read_text()
    assert running.count("<td>running</td>") == 3 and "http-equiv='refresh'" in running


def test_summary_names_the_best_trial_gpus_and_wall_time(tmp_path):
    sweep = synthetic_sweep(tmp_path / "s", trials=10, reports=6)
    data = load_sweep_data(sweep)
    page = write_report(sweep).read_text()
    best = data.best
    assert f"{best['trial_id']}: val/loss = <b>{best['best_metric']:.6g}</b>" in page
    assert "10.0.0.1:0, 10.0.0.1:1" in page
    assert re.search(r"<th>wall time</th><td>9\d\.\d s", page)  # 10 trials started 10 s apart


def test_refresher_rewrites_at_most_every_interval(tmp_path):
    from sweeprunner.run.report_refresh import ReportRefresher

    sweep = synthetic_sweep(tmp_path / "s", trials=4, reports=3)
    refresher = ReportRefresher(str(sweep), interval_s=3600)
    refresher.on_trial_result(0, [], None, {})
    page = sweep / REPORT_FILE
    first = page.stat().st_mtime_ns
    assert "http-equiv='refresh'" in page.read_text()  # marked running
    refresher.on_trial_result(0, [], None, {})
    refresher.on_trial_complete(0, [], None)
    assert page.stat().st_mtime_ns == first
    import pickle

    restored = pickle.loads(pickle.dumps(refresher))  # as Tune saves and restores callbacks
    restored.on_trial_complete(0, [], None)
    assert page.stat().st_mtime_ns > first


def test_a_report_that_cannot_render_warns_and_does_not_raise(tmp_path, capsys):
    from sweeprunner.run.report_refresh import safe_write_report

    sweep = synthetic_sweep(tmp_path / "s", trials=3, reports=3)
    (sweep / "sweeprunner.json").write_text("{")  # a torn launch record: load_trials raises
    assert safe_write_report(sweep) is None
    assert "warning: could not write" in capsys.readouterr().err


# --- in a browser ----------------------------------------------------------------------------

@needs_chromium
def test_every_plot_draws_in_chromium_with_no_console_errors(random_sweep, tmp_path):
    result = load_in_chromium(random_sweep / REPORT_FILE)
    assert result["errors"] == []
    dom = result["dom"]
    for div in plot_divs((random_sweep / REPORT_FILE).read_text()):
        start = dom.index(f'id="{div}"')
        assert "js-plotly-plot" in dom[start - 200:start + 200] and "main-svg" in dom[start:start + 3000], div
    assert "data-load-ms" in dom


@needs_chromium
def test_clicking_a_column_header_sorts_the_trial_table(tmp_path):
    sweep = synthetic_sweep(tmp_path / "s", trials=15, reports=9)
    page = write_report(sweep)
    clicked = page.with_name("clicked.html")  # the real page, plus a click on "reports" once it has loaded
    clicked.write_text(page.read_text().replace(
        "</body>", "<script>addEventListener('load',()=>{const h=document.querySelectorAll('#trials th')[2];"
                   "h.click();})</script></body>"))
    result = load_in_chromium(clicked)
    assert result["errors"] == []
    table = result["dom"][result["dom"].index('id="trials"'):]
    reports = [int(n) for n in re.findall(r'<tr class="\w+"><td>[0-9a-f]+</td><td>[^<]*</td><td data-v="(\d+)\.0"', table)]
    assert len(reports) == 15
    original = load_sweep_data(sweep).trials["iterations"].tolist()  # best first: 9, 9, ..., 3, 2, 1
    assert reports == sorted(reports) and reports != original


@needs_chromium
def test_the_no_success_page_loads_cleanly_in_chromium(tmp_path):
    sweep = synthetic_sweep(tmp_path / "s", trials=2, reports=3, errored=2, incomplete=0)
    for path in (sweep / "trials").glob("*.jsonl"):
        path.write_text("")
    result = load_in_chromium(write_report(sweep))
    assert result["errors"] == [] and "No successful trial" in result["dom"]


@needs_chromium
@pytest.mark.slow
def test_1000_trials_by_100_reports_opens_in_seconds(tmp_path):
    sweep = synthetic_sweep(tmp_path / "big", trials=1000, reports=100)
    page = write_report(sweep)
    assert page.stat().st_size < 12 * 2**20
    small = load_in_chromium(write_report(synthetic_sweep(tmp_path / "small", trials=10, reports=10)))
    result = load_in_chromium(page)
    assert result["errors"] == []
    # Seconds on an idle machine; on a loaded one compare with a 10-trial page loaded just before.
    assert result["load_ms"] is not None and result["load_ms"] < 4 * small["load_ms"] + 2000, (result["load_ms"], small["load_ms"])
    assert result["dom"].count('class="main-svg"') >= 5


# --- while it runs, interrupted and resumed ---------------------------------------------------

@pytest.mark.slow
def test_report_is_written_while_running_then_after_interrupt_and_resume(tmp_path):
    config = tmp_path / "sweep.yaml"
    config.write_text(json.dumps({
        "method": "random", "run_cap": 4, "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1.0},
                       "epochs": {"value": 6}, "sleep": {"value": 0.5}},
        "sweeprunner": {"trainable": "toy", "seed": 2, "max_concurrent_trials": 1}}))
    sweep_dir = tmp_path / "out"
    driver = subprocess.Popen([sys.executable, "-m", "sweeprunner", "run", str(config), "--storage", str(sweep_dir),
                               "--num-cpus", "2"], cwd=REPO, env=ENV, start_new_session=True, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    page = sweep_dir / REPORT_FILE
    try:
        deadline = time.monotonic() + 240
        while not page.exists() and time.monotonic() < deadline and driver.poll() is None:
            time.sleep(0.2)
        assert page.exists(), "no report while the sweep ran"
        assert "sweep running" in page.read_text()
        driver.send_signal(signal.SIGINT)
        output, _ = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert f"report: {page} (rewritten about every 30 s" in output
    assert driver.returncode == 130, output
    interrupted = page.read_text()
    assert "a snapshot" in interrupted and interrupted.count("<td>finished</td>") < 4
    resumed = subprocess.run([sys.executable, "-m", "sweeprunner", "resume", str(sweep_dir), "--num-cpus", "2"],
                             cwd=REPO, env=ENV, capture_output=True, text=True, timeout=400)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"report: {page}" in resumed.stdout
    final = page.read_text()
    assert final.count("<td>finished</td>") == 4 and "<td>incomplete</td>" not in final
