"""YAML loading for sweep configs: YAML 1.2 numbers, duplicate keys rejected."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from sweeprunner.errors import Issue, SweepConfigError

_FLOAT_TAG = "tag:yaml.org,2002:float"

# YAML 1.2 float syntax: unlike PyYAML's YAML 1.1 rule, ``1e-5`` needs no dot to be a number.
_FLOAT_12 = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class SweepYamlLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 floats and an error on duplicate mapping keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


SweepYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _FLOAT_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SweepYamlLoader.add_implicit_resolver(_FLOAT_TAG, _FLOAT_12, list("-+0123456789."))


def load_yaml_text(text: str, *, source: str | None = None) -> Any:
    """Parse YAML text; syntax errors become a :class:`SweepConfigError` with the line."""
    try:
        return yaml.load(text, Loader=SweepYamlLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = getattr(exc, "problem", None) or str(exc)
        raise SweepConfigError([Issue((), f"invalid YAML at {where}: {problem}")], source=source) from None


def load_yaml_file(path: str | Path) -> Any:
    """Read and parse a YAML file; a missing file is a config error, not a traceback."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SweepConfigError([Issue((), f"cannot read config file: {exc.strerror}")], source=str(path)) from None
    return load_yaml_text(text, source=str(path))
