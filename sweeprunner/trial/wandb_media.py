"""W&B media types (``wandb.Image``, ``Histogram``, ``Table``, ``Html``, ...) and how logged media are kept.

``wandb.log`` accepts media, lists of media, numpy arrays, tensors and matplotlib figures. Their
data is written under the run's ``media/`` folder as ``<key>_<step>.<ext>`` (PNG through PIL when
it is installed, ``.npy`` for arrays, JSON for tables, histograms and charts, the original file for
paths), and the run's history row holds a reference ``{"_type": ..., "path": "media/..."}``.
Reported rows carry only scalars.

Importing this module never imports Ray (numpy is imported when media are saved).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sweeprunner.trial.protocol import SKIP, native, scalar

__all__ = ["Media", "Image", "Histogram", "Table", "Html", "Audio", "Video", "Object3D",
           "Molecule", "Plotly", "CustomChart", "extract_media"]


def _numpy(value: Any) -> Any:
    """A numpy array from a numpy array, a torch tensor or a (nested) list."""
    import numpy as np

    if hasattr(value, "detach"):             # torch
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, Path)) and Path(value).is_file()


def _with(stem: Path, ext: str) -> Path:
    """``stem`` + ``ext`` (``Path.with_suffix`` would cut a dotted key such as ``val.pred_0``)."""
    return stem.parent / (stem.name + ext)


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(native(obj), default=str))


class Media:
    """A W&B media value: holds what it was built from; :meth:`save` writes it under a run."""

    type_name = "media"
    ext = ".json"

    def __init__(self, data: Any = None, caption: str | None = None, **kwargs: Any) -> None:
        self.data, self.caption, self.kwargs = data, caption, kwargs

    def payload(self) -> Any:
        """What the JSON file holds (subclasses that write other formats override ``write``)."""
        return {"data": self.data, **self.kwargs}

    def write(self, stem: Path) -> Path:
        """Write the data next to ``stem`` (no suffix); return the file written."""
        if _is_path(self.data):
            target = _with(stem, Path(self.data).suffix or self.ext)
            shutil.copyfile(self.data, target)
            return target
        target = _with(stem, self.ext)
        _write_json(target, self.payload())
        return target

    def save(self, media_dir: Path, stem: str) -> dict[str, Any]:
        media_dir.mkdir(parents=True, exist_ok=True)
        path = self.write(media_dir / stem)
        ref: dict[str, Any] = {"_type": self.type_name, "path": f"{media_dir.name}/{path.name}"}
        if self.caption is not None:
            ref["caption"] = self.caption
        return ref


class Image(Media):
    """``wandb.Image(data_or_path, mode=None, caption=None, ...)``: arrays (HWC or CHW), tensors,
    PIL images, matplotlib figures or a file path."""

    type_name = "image-file"
    ext = ".png"

    def __init__(self, data_or_path: Any = None, mode: str | None = None, caption: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(data_or_path, caption=caption, **kwargs)
        self.mode = mode

    def write(self, stem: Path) -> Path:
        data = self.data
        if data is None or _is_path(data):
            return super().write(stem)
        if hasattr(data, "savefig"):                     # matplotlib figure
            target = _with(stem, ".png")
            data.savefig(target)
            return target
        try:
            from PIL import Image as PILImage
        except ImportError:                              # no PIL: keep the pixels as an array
            PILImage = None
        if PILImage is not None and isinstance(data, PILImage.Image):
            target = _with(stem, ".png")
            data.save(target)
            return target
        array = _image_array(_numpy(data))
        if PILImage is None:
            import numpy as np

            target = _with(stem, ".npy")
            np.save(target, array)
            return target
        target = _with(stem, ".png")
        PILImage.fromarray(array, mode=self.mode).save(target)
        return target


def _image_array(array: Any) -> Any:
    """HWC uint8 pixels from W&B's accepted layouts: CHW tensors, floats in [0, 1], one channel."""
    import numpy as np

    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = np.transpose(array, (1, 2, 0))
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.dtype != np.uint8:
        array = np.asarray(array, dtype=float)
        if array.size and array.min() >= 0 and array.max() <= 1:
            array = array * 255
        array = np.clip(array, 0, 255).astype(np.uint8)
    return array


class Histogram(Media):
    """``wandb.Histogram(sequence=None, np_histogram=None, num_bins=64)``: ``bins`` and ``histogram``."""

    type_name = "histogram"

    def __init__(self, sequence: Any = None, np_histogram: Any = None, num_bins: int = 64) -> None:
        super().__init__()
        import numpy as np

        if np_histogram is not None:
            values, bins = np_histogram
        else:
            values, bins = np.histogram(_numpy(sequence if sequence is not None else []), bins=num_bins)
        self.histogram, self.bins = native(values), native(bins)

    def payload(self) -> Any:
        return {"bins": self.bins, "values": self.histogram}


class Table(Media):
    """``wandb.Table(columns=None, data=None, dataframe=None)`` with ``add_data``/``add_column``."""

    type_name = "table-file"

    def __init__(self, columns: list[str] | None = None, data: Any = None, rows: Any = None,
                 dataframe: Any = None, **kwargs: Any) -> None:
        super().__init__()
        if dataframe is not None:
            columns = [str(c) for c in dataframe.columns]
            data = dataframe.values.tolist()
        data = [list(r) for r in (data if data is not None else rows if rows is not None else [])]
        if columns is None:
            columns = [f"col{i}" for i in range(len(data[0]))] if data else []
        self.columns: list[str] = list(columns)
        self.data: list[list[Any]] = data

    def add_data(self, *row: Any) -> None:
        if len(row) != len(self.columns):
            raise ValueError(f"Table.add_data: expected {len(self.columns)} values, got {len(row)}")
        self.data.append(list(row))

    def add_column(self, name: str, data: list[Any], optional: bool = False) -> None:
        if self.data and len(data) != len(self.data):
            raise ValueError(f"Table.add_column: expected {len(self.data)} values, got {len(data)}")
        self.columns.append(name)
        if not self.data:
            self.data = [[] for _ in data]
        for row, value in zip(self.data, data, strict=True):
            row.append(value)

    def get_column(self, name: str, convert_to: str | None = None) -> list[Any]:
        i = self.columns.index(name)
        return [row[i] for row in self.data]

    def get_dataframe(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.data, columns=self.columns)

    def payload(self) -> Any:
        return {"columns": self.columns, "data": [[_cell(v) for v in row] for row in self.data]}


def _cell(value: Any) -> Any:
    return repr(value) if isinstance(value, Media) else value


class Html(Media):
    """``wandb.Html(data, inject=True)``: a string, a file path or an open file."""

    type_name = "html-file"
    ext = ".html"

    def write(self, stem: Path) -> Path:
        if _is_path(self.data):
            return super().write(stem)
        text = self.data.read() if hasattr(self.data, "read") else str(self.data)
        target = _with(stem, ".html")
        target.write_text(text)
        return target


class _ArrayOrFile(Media):
    """Media whose data is a file path or an array (kept with ``np.save``)."""

    def write(self, stem: Path) -> Path:
        if self.data is None or _is_path(self.data) or isinstance(self.data, Mapping):
            return super().write(stem)
        import numpy as np

        target = _with(stem, ".npy")
        np.save(target, _numpy(self.data))
        if self.kwargs:
            _write_json(_with(stem, ".json"), self.kwargs)
        return target


class Audio(_ArrayOrFile):
    type_name = "audio-file"

    def __init__(self, data_or_path: Any, sample_rate: int | None = None, caption: str | None = None) -> None:
        super().__init__(data_or_path, caption=caption, sample_rate=sample_rate)


class Video(_ArrayOrFile):
    type_name = "video-file"

    def __init__(self, data_or_path: Any, caption: str | None = None, fps: int | None = None,
                 format: str | None = None) -> None:   # noqa: A002 -- W&B's name
        super().__init__(data_or_path, caption=caption, fps=fps, format=format)


class Object3D(_ArrayOrFile):
    type_name = "object3D-file"


class Molecule(Media):
    type_name = "molecule-file"
    ext = ".txt"

    def write(self, stem: Path) -> Path:
        if _is_path(self.data):
            return super().write(stem)
        target = _with(stem, ".txt")
        target.write_text(str(self.data))
        return target


class Plotly(Media):
    type_name = "plotly-file"

    def write(self, stem: Path) -> Path:
        target = _with(stem, ".json")
        to_json = getattr(self.data, "to_json", None)
        target.write_text(to_json() if callable(to_json) else json.dumps(native(self.data), default=str))
        return target


class CustomChart(Media):
    """What the ``wandb.plot`` helpers return: a chart name, its field mapping and its table."""

    type_name = "chart"

    def __init__(self, chart: str, table: Table, fields: Mapping[str, Any],
                 string_fields: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.chart, self.table = chart, table
        self.fields, self.string_fields = dict(fields), dict(string_fields or {})

    def payload(self) -> Any:
        return {"chart": self.chart, "fields": self.fields, "string_fields": self.string_fields,
                "table": self.table.payload()}


# ---------------------------------------------------------------------------- logged rows

def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", name)


def _as_media(value: Any) -> Media | None:
    """``value`` as a Media to save, or None for scalars and plain values."""
    if isinstance(value, Media):
        return value
    if hasattr(value, "savefig"):
        return Image(value)
    if scalar(value) is not SKIP or isinstance(value, (str, bytes, Mapping)):
        return None
    if hasattr(value, "shape") or (isinstance(value, (list, tuple)) and value
                                   and all(isinstance(v, (int, float)) for v in value)):
        return _ArrayOrFile(value)
    return None


def extract_media(data: Mapping[str, Any], media_dir: Path, step: int,
                  prefix: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a logged row: (the row without media, ``{dotted key: reference}`` of saved media)."""
    rest: dict[str, Any] = {}
    refs: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and not isinstance(value, Media):
            sub_rest, sub_refs = extract_media(value, media_dir, step, prefix=name + ".")
            if sub_rest:
                rest[key] = sub_rest
            refs.update(sub_refs)
            continue
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, Media) for v in value):
            items = [v.save(media_dir, f"{_safe(name)}_{step}_{i}") for i, v in enumerate(value)]
            refs[name] = {"_type": "media-list", "items": items}
            continue
        media = _as_media(value)
        if media is None:
            rest[key] = value
            continue
        ref = media.save(media_dir, f"{_safe(name)}_{step}")
        if type(media) is _ArrayOrFile:
            ref["_type"] = "ndarray"
        refs[name] = ref
    return rest, refs
