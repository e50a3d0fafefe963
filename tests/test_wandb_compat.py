"""sweeprunner.wandb_compat and in-process trainables (standalone: reports land in session.history)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sweeprunner.trial import session, wandb_compat
from sweeprunner.trial.adapters import make_trainable
from sweeprunner.trial.protocol import CHECKPOINT_DIR_ENV, JSONL_ENV

SCRIPTS = Path(__file__).parent / "data" / "scripts"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def trial_dir(wandb_trial_dir):
    return wandb_trial_dir


def _run(params, metric, body):
    with wandb_compat.trial(params, metric):
        body()


# ---------------------------------------------------------------------------- config

def test_config_attribute_item_and_nested_access(trial_dir):
    def body():
        run = wandb_compat.init()
        cfg = wandb_compat.config
        assert cfg.lr == cfg["lr"] == run.config.lr == 0.1
        assert cfg.optimizer.lr == cfg["optimizer"]["lr"] == 0.01
        assert cfg.optimizer.name == "adam"
        assert isinstance(cfg.optimizer, dict) and json.dumps(cfg.optimizer)
        assert "lr" in cfg and set(cfg.keys()) == {"lr", "optimizer"}
        assert cfg.get("missing", 5) == 5
        with pytest.raises(AttributeError, match="no key 'missing'"):
            _ = cfg.missing
        assert cfg.as_dict() == {"lr": 0.1, "optimizer": {"lr": 0.01, "name": "adam"}}

    _run({"lr": 0.1, "optimizer": {"lr": 0.01, "name": "adam"}}, None, body)


def test_sweep_values_win_over_defaults_and_are_locked(trial_dir, capsys):
    def body():
        ns = argparse.Namespace(lr=0.5, epochs=3, optimizer={"lr": 1.0, "beta": 0.9})
        wandb_compat.init(config=ns)
        cfg = wandb_compat.config
        assert cfg.lr == 0.1 and cfg.epochs == 3
        assert cfg.optimizer == {"lr": 0.01, "beta": 0.9}   # nested defaults merged in
        cfg.update({"lr": 7.0, "extra": 1})
        cfg.batch = 32
        assert cfg.lr == 0.1 and cfg.extra == 1 and cfg["batch"] == 32

    _run({"lr": 0.1, "optimizer": {"lr": 0.01}}, None, body)
    assert "Config item 'lr' was locked by 'sweep' (ignored update)" in capsys.readouterr().err


def test_init_without_sweep_uses_given_config(trial_dir):
    run = wandb_compat.init(config={"lr": 3})
    try:
        assert wandb_compat.config.lr == 3 and wandb_compat.run is run
        assert wandb_compat.init() is run   # a second init returns the active run
    finally:
        wandb_compat.finish()
    assert wandb_compat.run is None


# ---------------------------------------------------------------------------- log / report

def test_each_log_carrying_the_metric_is_one_result(trial_dir):
    def body():
        wandb_compat.init()
        wandb_compat.log({"lr": 0.1})                      # no metric: merged into the next
        wandb_compat.log({"loss": 1.0, "epoch": 0})
        wandb_compat.log({"acc": 0.5}, commit=False)
        wandb_compat.log({"loss": 0.5, "epoch": 1})
        wandb_compat.log({"loss": float("nan")})           # reported; Tune sees the worst value
        wandb_compat.log({"val": {"loss": 2.0}})           # nested -> "val.loss"
        wandb_compat.log({"loss": 0.25, "img": wandb_compat.Image(None)})
        wandb_compat.log({"val": {"loss": 1.0}})           # after the last metric row: kept too

    _run({}, "loss", body)
    rows = session.history
    assert [r["loss"] for r in rows[:4]] == [1.0, 0.5, "nan", 0.25]
    assert rows[0]["lr"] == 0.1 and rows[1]["acc"] == 0.5
    assert rows[3]["val.loss"] == 2.0 and "img" not in rows[3]
    assert rows[4] == {"val.loss": 1.0, "_step": 6, "_runtime": rows[4]["_runtime"]}
    assert [r["_step"] for r in rows] == [1, 2, 3, 5, 6]
    history = (trial_dir / "wandb" / "history.jsonl").read_text().splitlines()
    assert len(history) == 7


def test_without_a_metric_every_committed_row_is_reported(trial_dir):
    def body():
        wandb_compat.init()
        wandb_compat.log({"a": 1})
        wandb_compat.log({"b": 2}, step=5)   # held until the step moves on or the run ends
        wandb_compat.log({"c": 3}, step=6)
        wandb_compat.log({"d": 4}, step=2)   # earlier step: ignored, as in W&B

    _run({}, None, body)
    assert [(r["_step"], sorted(k for k in r if not k.startswith("_"))) for r in session.history] \
        == [(0, ["a"]), (5, ["b"]), (6, ["c"])]


def test_summary_is_written_and_a_summary_only_metric_is_reported_once(trial_dir):
    def body():
        run = wandb_compat.init()
        wandb_compat.log({"train_loss": 0.3})
        run.summary["best_acc"] = 0.9
        run.summary.note = "ok"

    _run({}, "best_acc", body)
    assert [r["best_acc"] for r in session.history] == [0.9]
    summary = json.loads((trial_dir / "wandb" / "summary.json").read_text())
    assert summary == {"train_loss": 0.3, "best_acc": 0.9, "note": "ok"}


def test_save_copies_files_into_the_trial_and_restore_reads_them(trial_dir, tmp_path):
    def body():
        run = wandb_compat.init()
        Path("model.pth").write_text("v1")
        Path("ckpts").mkdir()
        Path("ckpts/a.pt").write_text("a")
        wandb_compat.save("model.pth")
        wandb_compat.save("ckpts/*.pt", base_path=".")
        Path("model.pth").write_text("v2")                # changed later: copied again at finish
        os.remove("model.pth")
        Path("model.pth").write_text("v2")
        wandb_compat.log({"loss": 1.0})
        assert run.restore("ckpts/a.pt", replace=True, root=str(tmp_path / "r")).read() == "a"

    _run({}, "loss", body)
    assert (trial_dir / "files" / "model.pth").read_text() == "v2"
    assert (trial_dir / "files" / "ckpts" / "a.pt").read_text() == "a"


def test_jsonl_output_in_a_child_needs_no_ray(trial_dir):
    code = ("from sweeprunner.trial import wandb_compat as wandb\n"
            "wandb.init(); wandb.log({'loss': 1.5}); wandb.finish()\n"
            "import sys; assert 'ray' not in sys.modules")
    env = {**os.environ, JSONL_ENV: "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=60).stdout
    row = json.loads(out.strip().splitlines()[-1])["sweeprunner"]
    assert row["loss"] == 1.5 and row["_step"] == 0


def test_shim_makes_import_wandb_resolve_to_the_compat_module():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "sweeprunner" / "trial" / "_wandb_shim"),
                                                         str(ROOT)])}
    out = subprocess.run([sys.executable, "-c", "import wandb; print(wandb.__name__, wandb.init)"],
                         env=env, capture_output=True, text=True, check=True, timeout=60).stdout
    assert out.startswith("sweeprunner.trial.wandb_compat <function init")


def test_api_guards(trial_dir):
    with pytest.raises(RuntimeError, match="wandb.init"):
        wandb_compat.log({"a": 1})
    run = wandb_compat.init()
    wandb_compat.finish()
    with pytest.raises(RuntimeError, match="after wandb.finish"):
        run.log({"a": 1})


# ---------------------------------------------------------------------------- adapters

GUIDE_BASIC = {"hidden_size": 8, "num_layers": 2, "dropout": 0.1, "optimizer": "adam",
               "learning_rate": 0.01, "weight_decay": 0.0, "epochs": 3, "batch_size": 16}
GUIDE_TORCH = {"batch_size": 16, "num_classes": 2, "dropout": 0.1, "optimizer": "sgd",
               "learning_rate": 0.05, "momentum": 0.9, "weight_decay": 0.0, "epochs": 3}


def test_guide_basic_template_runs_with_the_changed_import(trial_dir):
    trainable = make_trainable("guide_basic:train", workdir=str(SCRIPTS), metric_name="val/loss")
    assert trainable.__name__ == "train"
    trainable(dict(GUIDE_BASIC))
    assert [r["epoch"] for r in session.history] == [0, 1, 2]
    assert all({"train/loss", "val/accuracy", "val/loss"} <= set(r) for r in session.history)
    assert (trial_dir / "files" / "model.pth").stat().st_size > 0
    summary = json.loads((trial_dir / "wandb" / "summary.json").read_text())
    assert summary["final_val_loss"] == summary["val/loss"]


@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="real wandb installed")
def test_guide_pytorch_train_runs_unchanged_with_the_shim(trial_dir):
    sys.modules.pop("guide_pytorch", None)
    trainable = make_trainable("guide_pytorch:train", workdir=str(SCRIPTS), wandb_shim=True,
                               metric_name="val/accuracy")
    trainable(dict(GUIDE_TORCH, optimizer="sgd"))
    trainable(dict(GUIDE_TORCH, optimizer="adam"))
    assert [r["epoch"] for r in session.history] == [0, 1, 2, 0, 1, 2]
    assert sys.modules["wandb"] is wandb_compat
    sys.modules.pop("guide_pytorch", None)


def test_native_train_config_form_reports_and_resumes(trial_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(CHECKPOINT_DIR_ENV, str(tmp_path / "ckpt"))
    trainable = make_trainable(str(SCRIPTS / "native_train.py") + ":train")
    trainable({"opt": {"lr": 1.0}, "epochs": 2})
    trainable({"opt": {"lr": 1.0}, "epochs": 4})   # a retry resumes after epoch 1
    assert [r["epoch"] for r in session.history] == [0, 1, 2, 3]


def test_callable_targets_and_bad_targets(trial_dir):
    def train_native(config):
        session.report({"loss": config["x"]})

    make_trainable(train_native, metric_name="loss")({"x": 2.0})
    assert session.history[-1] == {"loss": 2.0}
    with pytest.raises(ValueError, match="module:function"):
        make_trainable("no_colon")
    with pytest.raises(ValueError, match="not both"):
        make_trainable("m:f", program="x.py")
    with pytest.raises(ValueError, match="nothing to run"):
        make_trainable()
    with pytest.raises(ValueError, match="not 2"):
        make_trainable(lambda a, b: None)
    with pytest.raises(ValueError, match="has no function"):
        make_trainable("guide_basic:nope", workdir=str(SCRIPTS))({})


# ---------------------------------------------------------------------------- end to end (Ray)

def _launcher_missing() -> bool:
    try:
        import sweeprunner.run.launch  # noqa: F401
    except ImportError:
        return True
    return False


needs_launcher = pytest.mark.skipif(_launcher_missing(), reason="sweeprunner.run.launch not landed yet")


def run_cli_sweep(config: dict, tmp_path: Path, cwd: Path) -> tuple[int, list[dict]]:
    """`python -m sweeprunner run CONFIG --storage DIR --quiet`; rows of DIR/results.csv."""
    import csv

    from sweeprunner.config.parse import parse_sweep
    from sweeprunner.run.launch import LaunchOptions, run_sweep

    tmp_path.mkdir(parents=True, exist_ok=True)
    storage = tmp_path / "storage"
    runner = {**config.get("sweeprunner", {}), "storage": str(storage)}
    spec = parse_sweep({**config, "sweeprunner": runner})
    previous = os.getcwd()
    os.chdir(cwd)  # trials run in (and import from) the directory the sweep starts in
    try:
        code = run_sweep(spec, options=LaunchOptions(quiet=True))
    finally:
        os.chdir(previous)
    assert code in (0, 1)
    with (storage / "results.csv").open() as fh:
        return code, list(csv.DictReader(fh))


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
@needs_launcher
@pytest.mark.parametrize("target,params,metric,shim", [
    ("guide_basic:train",
     {"hidden_size": {"values": [4, 16]}, "num_layers": {"value": 1},
      "dropout": {"value": 0.0}, "optimizer": {"values": ["adam", "sgd"]},
      "learning_rate": {"distribution": "log_uniform_values", "min": 1e-4, "max": 0.3},
      "weight_decay": {"value": 0.0}, "epochs": {"value": 9}, "batch_size": {"value": 16}},
     {"name": "val/loss", "goal": "minimize"}, False),
    ("guide_pytorch:train",
     {"batch_size": {"value": 16}, "num_classes": {"value": 2}, "dropout": {"value": 0.0},
      "optimizer": {"values": ["adam", "sgd"]}, "momentum": {"value": 0.9},
      "learning_rate": {"distribution": "log_uniform_values", "min": 1e-4, "max": 0.3},
      "weight_decay": {"value": 0.0}, "epochs": {"value": 9}},
     {"name": "val/accuracy", "goal": "maximize"}, True),
])
def test_guide_functions_under_random_search_with_hyperband(tmp_path, target, params, metric, shim):
    config = {"method": "random", "metric": metric, "parameters": params, "run_cap": 6,
              "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 3},
              "sweeprunner": {"trainable": target, "wandb_shim": shim, "seed": 0,
                              "resources": {"cpu": 1, "gpu": 0}}}
    rc, rows = run_cli_sweep(config, tmp_path, cwd=SCRIPTS)
    assert rc == 0 and len(rows) == 6
    stopped = [r for r in rows if r["stopped_early"].lower() == "true"]
    assert stopped and len(stopped) < len(rows), [(r["status"], r["iterations"]) for r in rows]
    assert {r["status"] for r in rows} == {"finished", "stopped"}
