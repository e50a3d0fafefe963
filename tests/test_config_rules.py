"""Config rules: hostile YAML (issue 11 item 11), name collisions (item 5), W&B's rules and what
``validate`` checks before ``run`` (issue 12 §5, §6)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from sweeprunner.config.parse import load_sweep, parse_sweep
from sweeprunner.config.yamlio import MAX_DEPTH
from sweeprunner.errors import SweepConfigError

REPO = Path(__file__).resolve().parents[1]

ALIAS_BOMB = """method: grid
run_cap: 3
parameters:
  x:
    values:
      - &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
      - &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
      - &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
      - &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
      - &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
      - &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
      - &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
      - &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
      - &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sweeprunner", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=120)


def deep_parameters(levels: int) -> str:
    text, indent = "method: random\nrun_cap: 2\nparameters:\n", "  "
    for i in range(levels):
        text += f"{indent}p{i}:\n{indent}  parameters:\n"
        indent += "    "
    return text + f"{indent}x: {{values: [1]}}\n"


@pytest.mark.parametrize("command", ["validate", "plan", "sample"])
def test_alias_bomb_exits_2_at_once(sweep_yaml, command):
    path = sweep_yaml(ALIAS_BOMB)
    start = time.perf_counter()
    done = cli(command, str(path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "holds more than 1,000,000 values once its YAML aliases (*name) are expanded" in done.stderr
    assert time.perf_counter() - start < 30  # was minutes at 3-4 GB


@pytest.mark.parametrize("text", [
    deep_parameters(250),
    "method: grid\nparameters:\n  x:\n    values: [" + "[" * 300 + "1" + "]" * 300 + "]\n",
])
def test_deep_nesting_exits_2_not_recursion_error(sweep_yaml, text):
    done = cli("validate", str(sweep_yaml(text)))
    assert done.returncode == 2 and "Traceback" not in done.stderr and "RecursionError" not in done.stderr
    assert f"nested deeper than {MAX_DEPTH} levels" in done.stderr


def test_self_referencing_alias_and_python_dicts_are_bounded_too(sweep_yaml):
    with pytest.raises(SweepConfigError, match="contains itself"):
        load_sweep(sweep_yaml("method: grid\nparameters:\n  x:\n    values: &a [1, *a]\n"))
    shared = [[1] * 10]
    for _ in range(7):
        shared = [shared] * 10  # small in memory, 10^8 values when walked
    with pytest.raises(SweepConfigError, match="more than 1,000,000 values"):
        parse_sweep({"method": "grid", "parameters": {"x": {"values": shared}}})
    deep: dict = {"values": [1]}
    for i in range(200):
        deep = {"parameters": {f"p{i}": deep}}
    with pytest.raises(SweepConfigError, match="nested deeper than"):
        parse_sweep({"method": "random", "run_cap": 1, "parameters": deep["parameters"]})


def test_reasonable_nesting_and_aliases_still_load(sweep_yaml):
    spec = load_sweep(sweep_yaml(deep_parameters(20)))
    assert len(list(spec.parameters.leaves())) == 1
    shared = load_sweep(sweep_yaml("method: grid\nparameters:\n  a: {values: &v [1, 2]}\n  b: {values: *v}\n"))
    assert [dist.grid_size() for _, dist in shared.parameters.leaves()] == [2, 2]


def test_unquoted_macros_get_a_quoting_hint(sweep_yaml):
    flow = sweep_yaml("method: random\nparameters: {x: {values: [1]}}\ncommand: [${env}, ${interpreter}, ${args}]\n")
    done = cli("validate", str(flow))
    assert done.returncode == 2 and "invalid YAML at line 3" in done.stderr
    assert 'quote such values' in done.stderr and '"${env}"' in done.stderr
    block = sweep_yaml("method: random\nparameters: {x: {values: [1]}}\ncommand:\n  - ${env}\n  - {interpreter}\n")
    with pytest.raises(SweepConfigError, match="an unquoted {...} is a YAML mapping: quote macros"):
        load_sweep(block)


def test_docs_command_example_is_valid_yaml():
    text = (REPO / "docs" / "trainable-api.md").read_text()
    line = next(x for x in text.splitlines() if x.startswith("command: [") and "${env}" in x)
    spec = parse_sweep({"method": "random", "parameters": {"x": {"values": [1]}}, "program": "t.py",
                        **__import__("yaml").safe_load(line)})
    assert spec.command == ("${env}", "${interpreter}", "${program}", "${args}")


def test_nested_and_dotted_names_that_collide_are_refused_naming_both(sweep_yaml):
    path = sweep_yaml("method: grid\nparameters:\n  a:\n    parameters:\n      b: {values: [1, 2]}\n"
                      "  a.b: {values: [3]}\n  c.d: {value: 1}\n  c: {parameters: {e: {value: 2}}}\n")
    done = cli("validate", str(path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (f"{path}: parameters[\"a.b\"]: collides with parameters.a.parameters.b: both are named 'a.b' in results"
            in done.stderr)
    assert "c.d" not in done.stderr  # c.d and c.e do not collide


def test_wandb_refusals_run_cap_null_and_controller_type():
    base = {"method": "random", "parameters": {"x": {"values": [1]}}}
    with pytest.raises(SweepConfigError, match="run_cap: must be an integer >= 1, got null"):
        parse_sweep({**base, "run_cap": None})
    with pytest.raises(SweepConfigError, match="controller.type: must be one of 'cloud', 'local', got 'remote'"):
        parse_sweep({**base, "controller": {"type": "remote"}})
    for kind in ("cloud", "local"):
        assert parse_sweep({**base, "controller": {"type": kind}}).method == "random"
    assert parse_sweep(base).run_cap is None  # no budget is valid: runs until stopped


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A user's project folder: a trainable module, a package, a broken file and a script."""
    (tmp_path / "mytrain.py").write_text("import os\n\ndef train(config):\n    pass\n")
    (tmp_path / "bad.py").write_text("def broken(:\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("raise SystemExit('package code must not run at validate')\n")
    (tmp_path / "pkg" / "mod.py").write_text("def fit():\n    pass\n")
    (tmp_path / "train.py").write_text("print('hi')\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def validate_in(project: Path, text: str) -> subprocess.CompletedProcess:
    (project / "s.yaml").write_text("method: random\nparameters: {x: {values: [1]}}\n" + text)
    return subprocess.run([sys.executable, "-m", "sweeprunner", "validate", "s.yaml"], capture_output=True,
                          text=True, cwd=project, timeout=120, env={**__import__("os").environ, "PYTHONPATH": str(REPO)})


@pytest.mark.parametrize(("trainable", "message"), [
    ("image_clasification", "sweeprunner.trainable: unknown trainable 'image_clasification' (did you mean "
                            "'image_classification'?)"),
    ("mytrain:trian", "sweeprunner.trainable: trainable 'mytrain:trian': mytrain.py defines no function 'trian' (did you mean "
                      "'train'?)"),
    ("bad:broken", "line 1: invalid syntax"),
    ("nosuch:train", "trainable 'nosuch:train': no module named 'nosuch'"),
    ("nope.py:train", "no file"),
])
def test_validate_reports_an_unusable_trainable(project, trainable, message):
    done = validate_in(project, f"sweeprunner: {{trainable: '{trainable}'}}\n")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert message in done.stderr


@pytest.mark.parametrize("trainable", ["toy", "mytrain:train", "mytrain.py:train"])
def test_validate_accepts_a_usable_trainable(project, trainable):
    done = validate_in(project, f"sweeprunner: {{trainable: '{trainable}'}}\n")
    assert done.returncode == 0, done.stderr


def test_validate_finds_a_package_function_without_running_package_code(project):
    from sweeprunner.config.parse import parse_sweep as parse
    from sweeprunner.trial.preflight import runnable_problems

    def problems(target):
        spec = parse({"method": "random", "parameters": {"x": {"values": [1]}}, "sweeprunner": {"trainable": target}})
        return [str(issue) for issue in runnable_problems(spec, project)]

    assert problems("pkg.mod:fit") == []  # pkg/__init__.py raises SystemExit: it was not run
    assert "defines no function 'fitt' (did you mean 'fit'?)" in "".join(problems("pkg.mod:fitt"))


def test_validate_reports_command_macros_and_missing_program_under_their_keys(project):
    done = validate_in(project, 'program: missing.py\ncommand: ["${env}", "${interpreter}", "${program}", "${argz}"]\n')
    assert done.returncode == 2
    assert "s.yaml: command[3]: unknown macro '${argz}'" in done.stderr
    assert "s.yaml: program: no file 'missing.py'" in done.stderr
    assert "sweeprunner.trainable" not in done.stderr
    assert validate_in(project, "program: train.py\n").returncode == 0


def test_metric_name_null_is_refused():
    with pytest.raises(SweepConfigError, match="metric.name: required"):
        parse_sweep({"method": "bayes", "metric": {"name": None}, "parameters": {"x": {"min": 0.0, "max": 1.0}}})
