"""``wandb.plot``: chart helpers. Each returns a :class:`CustomChart` that ``wandb.log`` accepts and
saves as ``media/<key>_<step>.json`` (chart name, field mapping and the data table). Nothing is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sweeprunner.trial.protocol import native
from sweeprunner.trial.wandb_media import CustomChart, Table

__all__ = ["line", "scatter", "bar", "histogram", "line_series", "confusion_matrix", "pr_curve",
           "roc_curve", "plot_table"]


def _chart(chart: str, table: Table, fields: dict[str, Any], title: str | None) -> CustomChart:
    return CustomChart(chart, table, fields, {"title": title or ""})


def line(table: Table, x: str, y: str, stroke: str | None = None, title: str | None = None,
         split_table: bool = False) -> CustomChart:
    return _chart("line", table, {"x": x, "y": y, **({"stroke": stroke} if stroke else {})}, title)


def scatter(table: Table, x: str, y: str, title: str | None = None, split_table: bool = False) -> CustomChart:
    return _chart("scatter", table, {"x": x, "y": y}, title)


def bar(table: Table, label: str, value: str, title: str | None = None, split_table: bool = False) -> CustomChart:
    return _chart("bar", table, {"label": label, "value": value}, title)


def histogram(table: Table, value: str, title: str | None = None, split_table: bool = False) -> CustomChart:
    return _chart("histogram", table, {"value": value}, title)


def line_series(xs: Sequence[Any], ys: Sequence[Sequence[Any]], keys: Sequence[str] | None = None,
                title: str | None = None, xname: str | None = None, split_table: bool = False) -> CustomChart:
    xs, ys = native(list(xs)), [native(list(y)) for y in ys]
    per_series = xs and isinstance(xs[0], list)
    names = list(keys) if keys is not None else [f"key_{i}" for i in range(len(ys))]
    table = Table(columns=["step", "lineKey", "lineVal"])
    for i, series in enumerate(ys):
        steps = xs[i] if per_series else xs
        for step, value in zip(steps, series, strict=False):
            table.add_data(step, names[i], value)
    return _chart("line_series", table, {"step": "step", "lineKey": "lineKey", "lineVal": "lineVal",
                                         "xname": xname or "x"}, title)


def confusion_matrix(probs: Sequence[Sequence[float]] | None = None, y_true: Sequence[Any] | None = None,
                     preds: Sequence[Any] | None = None, class_names: Sequence[str] | None = None,
                     title: str | None = None, split_table: bool = False) -> CustomChart:
    y_true = native(list(y_true if y_true is not None else []))
    if preds is None:
        if probs is None:
            raise ValueError("wandb.plot.confusion_matrix needs preds or probs")
        preds = [max(range(len(p)), key=lambda i, p=p: p[i]) for p in native(list(probs))]
    preds = native(list(preds))
    if len(preds) != len(y_true):
        raise ValueError("wandb.plot.confusion_matrix: y_true and preds differ in length")
    n = max([*y_true, *preds], default=-1) + 1
    names = list(class_names) if class_names is not None else [str(i) for i in range(n)]
    counts = [[0] * len(names) for _ in names]
    for t, p in zip(y_true, preds, strict=True):
        counts[t][p] += 1
    table = Table(columns=["Actual", "Predicted", "nPredictions"])
    for i, actual in enumerate(names):
        for j, predicted in enumerate(names):
            table.add_data(actual, predicted, counts[i][j])
    return _chart("confusion_matrix", table,
                  {"Actual": "Actual", "Predicted": "Predicted", "nPredictions": "nPredictions"}, title)


def _scores_table(y_true: Sequence[Any], y_probas: Sequence[Sequence[float]]) -> Table:
    table = Table(columns=["y_true", "y_probas"])
    for t, p in zip(native(list(y_true)), native(list(y_probas)), strict=True):
        table.add_data(t, p)
    return table


def pr_curve(y_true: Sequence[Any], y_probas: Sequence[Sequence[float]], labels: Sequence[str] | None = None,
             classes_to_plot: Sequence[Any] | None = None, title: str | None = None, **_: Any) -> CustomChart:
    """The inputs are kept as they are (the curve is not computed)."""
    return _chart("pr_curve", _scores_table(y_true, y_probas), {"labels": list(labels or [])}, title)


def roc_curve(y_true: Sequence[Any], y_probas: Sequence[Sequence[float]], labels: Sequence[str] | None = None,
              classes_to_plot: Sequence[Any] | None = None, title: str | None = None, **_: Any) -> CustomChart:
    """The inputs are kept as they are (the curve is not computed)."""
    return _chart("roc_curve", _scores_table(y_true, y_probas), {"labels": list(labels or [])}, title)


def plot_table(vega_spec_name: str, data_table: Table, fields: dict[str, Any],
               string_fields: dict[str, Any] | None = None, split_table: bool = False) -> CustomChart:
    return CustomChart(vega_spec_name, data_table, fields, string_fields)
