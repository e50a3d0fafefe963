"""The driver/trial protocol: one row format, one flattener, one merger."""

from __future__ import annotations

import math

import numpy as np

from sweeprunner.trial import protocol
from sweeprunner.trial.protocol import (
    RowMerger,
    flatten,
    format_row,
    native,
    number,
    parse_row,
    scalar,
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


def test_row_merger_waits_for_a_finite_metric():
    merger = RowMerger("loss")
    assert merger.push({"lr": 0.1}) is None
    assert merger.push({"loss": math.inf}) is None
    assert merger.push({"loss": 1.0}) == {"lr": 0.1, "loss": 1.0}
