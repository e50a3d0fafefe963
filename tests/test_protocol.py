"""The driver/trial protocol: one row format, one flattener, one merger."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sweeprunner.trial import protocol
from sweeprunner.trial.protocol import (
    RowMerger,
    flatten,
    format_row,
    history_row,
    jsonable,
    native,
    number,
    parse_row,
    scalar,
    tune_row,
)


def test_row_lines_round_trip_through_the_one_writer_and_parser():
    row = {"loss": np.float32(0.5), "step": np.int64(3), "bad": float("nan"), "tag": "x"}
    line = format_row(row)
    assert parse_row(line + "\n") == {"loss": 0.5, "step": 3, "bad": "nan", "tag": "x"}
    assert line.startswith(f'{{"{protocol.ROW_KEY}": ')


def test_one_flattener_serves_configs_rows_and_numbers():
    nested = {"opt": {"lr": 0.1, "name": "adam", "img": object()}, "empty": {}, "flag": True}
    assert flatten(nested)["opt.lr"] == 0.1 and flatten(nested)["empty"] == {}
    rows = flatten(nested, leaf=scalar)
    assert set(rows) == {"opt.lr", "opt.name", "flag"}          # objects and {} dropped
    assert flatten(nested, leaf=number) == {"opt.lr": 0.1}       # bools and text dropped
    assert native({"a": (np.float64(0.25), {"b": np.int32(2)})}) == {"a": [0.25, {"b": 2}]}


def test_row_merger_keeps_every_row():
    merger = RowMerger("loss")
    assert merger.push({"lr": 0.1}) == []                        # waits for the metric
    assert merger.push({"loss": "n/a"}) == [{"lr": 0.1, "loss": "n/a"}]   # any value is a report
    assert merger.push({"val_loss": 1.0}) == []
    assert merger.push({"val_loss": 2.0}) == [{"val_loss": 1.0}]  # would be overwritten: out alone
    assert merger.push({"loss": None}) == [{"val_loss": 2.0, "loss": None}]
    assert merger.push({"val_loss": 3.0}) == []
    assert merger.flush() == [{"val_loss": 3.0}] and merger.flush() == []
    assert RowMerger(None).push({"a": 1}) == [{"a": 1}]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "nan", "bad", None, True, np.float32("nan")])
@pytest.mark.parametrize("mode", ["min", "max"])
def test_tune_row_gives_searchers_the_worst_value_and_keeps_the_raw(value, mode):
    row, renamed = tune_row({"loss": value, "acc": math.nan}, metric="loss", mode=mode)
    assert row["loss"] == (math.inf if mode == "min" else -math.inf) and isinstance(row["loss"], float)
    assert row["raw/loss"] == jsonable(value) and row["acc"] == "nan" and renamed == []
    assert history_row(row)["loss"] == jsonable(value) and "raw/loss" not in history_row(row)


def test_tune_row_keeps_finite_metrics_and_namespaces_reserved_keys():
    row, renamed = tune_row({"loss": np.float64(0.5), "done": True, "trial_id": "x"}, metric="loss",
                            mode="min", reserved={"done", "trial_id", "training_iteration"})
    assert row == {"loss": 0.5, "user/done": True, "user/trial_id": "x"}
    assert renamed == ["done", "trial_id"]
    assert tune_row({"acc": 1}, metric="loss", mode="min")[0] == {"acc": 1}   # no metric: nothing imputed
