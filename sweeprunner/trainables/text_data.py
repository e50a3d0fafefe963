"""Text-classification data through ``datasets``: a hub name, local files, or a builtin set."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweeprunner.trainables import text_assets

_BUILDERS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
_TEXT_GUESSES = ("text", "sentence", "content", "review", "document")
_NAMESPACED_CONFIGS = ("glue", "super_glue")  # "glue/sst2" means dataset glue, config sst2


@dataclass
class TextData:
    train: Any  # datasets.Dataset with columns text (+ text_pair) and label (ints)
    eval: Any
    num_labels: int
    label_names: list[str]


def _builder(path: str, key: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in _BUILDERS:
        raise ValueError(
            f"config key {key!r}: {path!r} is not a .csv/.tsv/.json/.jsonl/.parquet file"
        )
    return _BUILDERS[suffix]


def _local_files(train_file: str, eval_file: str | None):
    import datasets

    builder = _builder(train_file, "train_file")
    files = {"train": str(Path(train_file).expanduser())}
    if eval_file:
        if _builder(eval_file, "eval_file") != builder:
            raise ValueError("config keys 'train_file' and 'eval_file' must have the same format")
        files["validation"] = str(Path(eval_file).expanduser())
    kwargs = {"delimiter": "\t"} if Path(train_file).suffix.lower() == ".tsv" else {}
    return datasets.load_dataset(builder, data_files=files, **kwargs)


def _hub(name: str, config_name: str | None):
    import datasets

    if config_name is None and name.count("/") == 1 and name.split("/")[0] in _NAMESPACED_CONFIGS:
        name, config_name = name.split("/")
    try:
        return datasets.load_dataset(name, config_name)
    except Exception as exc:  # offline: ConnectionError / DatasetNotFoundError
        raise RuntimeError(
            f"dataset {name!r} (config {config_name!r}) could not be loaded ({exc}); without internet "
            "use local files (config keys 'train_file'/'eval_file', or 'dataset' set to a directory)"
        ) from exc


def _split(splits, wanted: str, fallbacks: tuple[str, ...]):
    for name in (wanted, *fallbacks):
        if name in splits:
            return splits[name]
    return None


def load_text_data(
    *,
    dataset: str,
    dataset_config: str | None,
    train_file: str | None,
    eval_file: str | None,
    train_split: str,
    eval_split: str,
    text_column: str | None,
    text_pair_column: str | None,
    label_column: str,
    cache_dir: str,
    max_train_samples: int | None,
    max_eval_samples: int | None,
) -> tuple[TextData, str, str | None]:
    """Load, pick splits and columns, map labels to ints; returns (data, text_col, pair_col)."""
    if train_file:
        splits = _local_files(train_file, eval_file)
    elif dataset == text_assets.TINY_SENTIMENT:
        root = text_assets.tiny_sentiment(cache_dir)
        splits = _local_files(str(root / "train.jsonl"), str(root / "validation.jsonl"))
    elif dataset.startswith("builtin:"):
        raise ValueError(
            f"config key 'dataset': unknown builtin {dataset!r}; use {text_assets.TINY_SENTIMENT!r}"
        )
    elif Path(dataset).expanduser().is_dir():
        import datasets

        splits = datasets.load_dataset(str(Path(dataset).expanduser()))
    else:
        splits = _hub(dataset, dataset_config)

    train = _split(splits, train_split, ())
    if train is None:
        raise ValueError(f"config key 'train_split': {train_split!r} not in splits {list(splits)}")
    evaluation = _split(splits, eval_split, ("validation", "test"))
    if evaluation is None:
        parts = train.train_test_split(test_size=0.1, seed=0)
        train, evaluation = parts["train"], parts["test"]

    columns = train.column_names
    text_col = text_column or next((c for c in _TEXT_GUESSES if c in columns), None)
    wanted = {"text_column": text_col, "label_column": label_column}
    if text_pair_column is not None:
        wanted["text_pair_column"] = text_pair_column
    for key, col in wanted.items():
        if col not in columns:
            raise ValueError(f"config key {key!r}: column {col!r} not in {columns}")

    if max_train_samples:
        train = train.select(range(min(max_train_samples, len(train))))
    if max_eval_samples:
        evaluation = evaluation.select(range(min(max_eval_samples, len(evaluation))))
    train, evaluation, names = _int_labels(train, evaluation, label_column)
    evaluation = evaluation.filter(lambda row: row[label_column] >= 0)  # GLUE test rows are -1
    return TextData(train, evaluation, len(names), names), text_col, text_pair_column


def _int_labels(train, evaluation, column: str):
    """Labels as ints 0..n-1 with names: ClassLabel names, sorted strings, or int range."""
    feature = train.features[column]
    if hasattr(feature, "names"):
        return train, evaluation, list(feature.names)
    values = set(train.unique(column)) | set(evaluation.unique(column))
    if all(isinstance(v, str) for v in values):
        from datasets import ClassLabel

        names = sorted(values)
        feature = ClassLabel(names=names)
        return train.cast_column(column, feature), evaluation.cast_column(column, feature), names
    ints = {int(v) for v in values if int(v) >= 0}
    if not ints:
        raise ValueError(f"config key 'label_column': column {column!r} has no labels")
    return train, evaluation, [str(i) for i in range(max(ints) + 1)]
