"""Every trial's own files land in its directory in the sweep's storage (issue 11 item 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_wandb_compat import run_cli_sweep

SCRIPTS = Path(__file__).parent / "data" / "scripts"
pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_session")]


@pytest.mark.slow
def test_reused_actors_keep_every_trials_outputs_in_the_sweep_storage(tmp_path):
    config = {"method": "grid", "metric": {"name": "loss", "goal": "minimize"}, "program": "outputs_train.py",
              "parameters": {"x": {"values": [1, 2, 3, 4]}},
              "sweeprunner": {"wandb_shim": True, "max_failures": 0, "resources": {"cpu": 1, "gpu": 0}}}
    code, rows = run_cli_sweep(config, tmp_path, cwd=SCRIPTS)
    assert code == 1 and len(rows) == 4      # x=3 exits 3 after logging
    storage = tmp_path / "storage"
    trial_dirs = [p.parent for p in storage.glob("*/params.json")]
    assert len(trial_dirs) == 4
    for trial in trial_dirs:
        x = json.loads((trial / "params.json").read_text())["x"]
        assert (trial / "stdout.log").read_text().count(f"stdout of {x}") == 1, trial
        assert f"stderr of {x}" in (trial / "stderr.log").read_text()
        assert "outputs_train.py --x=" in (trial / "command.txt").read_text()
        assert json.loads((trial / "wandb" / "history.jsonl").read_text().splitlines()[0])["loss"] == x
        assert (trial / "files" / "in_run_dir.txt").read_text() == str(x)
        assert (trial / "files" / "model.txt").read_text() == "weights"
    [failed] = [t for t in trial_dirs if json.loads((t / "params.json").read_text())["x"] == 3]
    message = (failed / "error.txt").read_text()
    assert str(failed / "stderr.log") in message and "/tmp/ray" not in message


def test_storage_the_trial_cannot_write_directly_gets_the_outputs_through_ray(tmp_path):
    """A storage filesystem that is not a local path (here a SubTreeFileSystem, standing for S3
    or a node without the shared path): trials write to Ray's working dir, Ray uploads it."""
    import pyarrow.fs
    from ray import tune

    from sweeprunner.trial.adapters import make_trainable

    (tmp_path / "bucket").mkdir()
    filesystem = pyarrow.fs.SubTreeFileSystem(str(tmp_path / "bucket"), pyarrow.fs.LocalFileSystem())
    trainable = make_trainable(command=["${interpreter}", "-c", "import sys; print('out', sys.argv[1])", "${args}"],
                               metric_name="loss")
    tuner = tune.Tuner(trainable, param_space={"x": tune.grid_search([1, 2, 3, 4])},
                       tune_config=tune.TuneConfig(reuse_actors=True),
                       run_config=tune.RunConfig(name="exp", storage_path="sweeps", storage_filesystem=filesystem,
                                                 sync_config=tune.SyncConfig(sync_artifacts=True), verbose=0))
    tuner.fit()
    logs = sorted((tmp_path / "bucket" / "sweeps" / "exp").glob("*/stdout.log"))
    assert [p.read_text() for p in logs] == [f"out --x={x}\n" for x in (1, 2, 3, 4)]
    # and the driver asks Ray for exactly that upload
    from sweeprunner.compile.compiler import compile_sweep
    from sweeprunner.config.parse import parse_sweep
    from sweeprunner.run.launch import _run_config

    spec = parse_sweep({"method": "grid", "parameters": {"x": {"value": 1}}, "sweeprunner": {"trainable": "toy"}})
    assert _run_config(compile_sweep(spec), str(tmp_path / "s"), []).sync_config.sync_artifacts is True
