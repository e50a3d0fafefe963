"""``wandb.plot``: chart helpers. Each returns a :class:`CustomChart` that ``wandb.log`` accepts and
saves as ``media/<key>_<step>.json`` (chart name, field mapping and the data table). Nothing is drawn;
``pr_curve`` and ``roc_curve`` compute their curves as W&B does (scikit-learn, one class against the rest).
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


#: Rows a curve table keeps at most (W&B's ``Table.MAX_ROWS``).
CURVE_ROW_LIMIT = 10_000
#: Points per class W&B keeps of a precision-recall curve.
PR_POINTS_PER_CLASS = 20


def _per_class_curves(y_true: Sequence[Any], y_probas: Sequence[Sequence[float]], labels: Sequence[str] | None,
                      classes_to_plot: Sequence[Any] | None, curve: Any) -> list[tuple[Any, Any, Any]]:
    """``curve(y_true, scores, pos_label)`` for each class (one against the rest), as W&B computes it:
    classes are the distinct values of ``y_true``; column ``i`` of ``y_probas`` scores the ``i``-th of
    them; integer classes are named by ``labels``."""
    import numpy as np

    truth, scores = np.asarray(native(list(y_true))), np.asarray(native(list(y_probas)), dtype=float)
    if truth.ndim != 1 or scores.ndim != 2 or len(truth) != len(scores):
        raise ValueError(f"wandb.plot: y_true must be 1-D and y_probas (n, classes), got shapes "
                         f"{truth.shape} and {scores.shape}")
    classes = np.unique(truth)
    if scores.shape[1] < len(classes):
        raise ValueError(f"wandb.plot: y_true has {len(classes)} classes but y_probas only "
                         f"{scores.shape[1]} columns")
    wanted = classes if classes_to_plot is None else np.asarray(list(classes_to_plot))
    out = []
    for i, cls in enumerate(classes):
        if cls not in wanted:
            continue
        name = labels[int(cls)] if labels is not None and np.issubdtype(classes.dtype, np.integer) else cls
        first, second, _ = curve(truth, scores[:, i], pos_label=cls)
        out.append((native(name), first, second))
    return out


def _curve_table(columns: list[str], curves: list[tuple[Any, Any, Any]]) -> Table:
    """One row per curve point, rounded to 3 decimals as W&B does; at most :data:`CURVE_ROW_LIMIT`
    rows, thinned evenly within each class."""
    total = sum(len(a) for _, a, _ in curves)
    keep = min(1.0, CURVE_ROW_LIMIT / total) if total else 1.0
    table = Table(columns=columns)
    for name, first, second in curves:
        n = len(first)
        picks = range(n) if keep >= 1.0 else sorted({round(k / keep) for k in range(int(n * keep))} | {n - 1})
        for k in picks:
            table.add_data(name, round(float(first[k]), 3), round(float(second[k]), 3))
    return table


def roc_curve(y_true: Sequence[Any], y_probas: Sequence[Sequence[float]], labels: Sequence[str] | None = None,
              classes_to_plot: Sequence[Any] | None = None, title: str | None = None, **_: Any) -> CustomChart:
    """ROC curve of each class against the rest (scikit-learn's ``roc_curve``): a ``class, fpr, tpr`` table."""
    from sklearn.metrics import roc_curve as sk_roc_curve

    curves = _per_class_curves(y_true, y_probas, labels, classes_to_plot, sk_roc_curve)
    return CustomChart("wandb/area-under-curve/v0", _curve_table(["class", "fpr", "tpr"], curves),
                       {"x": "fpr", "y": "tpr", "class": "class"},
                       {"title": title or "ROC", "x-axis-title": "False positive rate",
                        "y-axis-title": "True positive rate"})


def pr_curve(y_true: Sequence[Any], y_probas: Sequence[Sequence[float]], labels: Sequence[str] | None = None,
             classes_to_plot: Sequence[Any] | None = None, title: str | None = None, **_: Any) -> CustomChart:
    """Precision-recall curve of each class against the rest (scikit-learn's ``precision_recall_curve``),
    :data:`PR_POINTS_PER_CLASS` points per class as W&B keeps: a ``class, precision, recall`` table."""
    from sklearn.metrics import precision_recall_curve

    def thinned(truth: Any, scores: Any, pos_label: Any) -> tuple[Any, Any, Any]:
        precision, recall, thresholds = precision_recall_curve(truth, scores, pos_label=pos_label)
        if len(precision) > PR_POINTS_PER_CLASS:
            picks = [k * len(precision) // PR_POINTS_PER_CLASS for k in range(PR_POINTS_PER_CLASS - 1)]
            picks.append(len(precision) - 1)      # the curve's last point (recall 0, precision 1)
            precision, recall = precision[picks], recall[picks]
        return precision, recall, thresholds

    curves = _per_class_curves(y_true, y_probas, labels, classes_to_plot, thinned)
    return CustomChart("wandb/area-under-curve/v0", _curve_table(["class", "precision", "recall"], curves),
                       {"x": "recall", "y": "precision", "class": "class"},
                       {"title": title or "Precision v. Recall"})


def plot_table(vega_spec_name: str, data_table: Table, fields: dict[str, Any],
               string_fields: dict[str, Any] | None = None, split_table: bool = False) -> CustomChart:
    return CustomChart(vega_spec_name, data_table, fields, string_fields)
