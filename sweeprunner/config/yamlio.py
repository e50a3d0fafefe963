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


#: The deepest nesting a sweep document may have (sweep configs need under 20 levels).
MAX_DEPTH = 100
#: The most values a document may hold once its aliases are expanded (a YAML "billion laughs"
#: alias bomb is small as text and as a Python object, but every reader that walks it expands it).
MAX_NODES = 1_000_000


class SweepYamlLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 floats, an error on duplicate mapping keys, and a depth limit."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        """PyYAML composes recursively: refuse deep nesting before it becomes a RecursionError."""
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

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


def check_document(raw: Any, *, source: str | None = None) -> None:
    """Refuse a document too large once its shared parts (YAML aliases) are expanded, too deep, or
    containing itself; walks each shared object once, without recursion."""
    sizes: dict[int, int] = {}  # id -> expanded size of a finished container
    open_ids: set[int] = set()
    stack: list[tuple[Any, int, bool]] = [(raw, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        children = list(node.items()) if isinstance(node, dict) else node if isinstance(node, list | tuple) else None
        if children is None or id(node) in sizes:
            continue
        if isinstance(node, dict):
            children = [x for pair in children for x in pair]
        if done:
            open_ids.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes.get(id(c), 1) for c in children)
            if sizes[id(node)] > MAX_NODES:
                raise SweepConfigError([Issue((), f"the config holds more than {MAX_NODES:,} values once its "
                                                  "YAML aliases (*name) are expanded; write the values out")],
                                       source=source)
            continue
        if id(node) in open_ids:
            raise SweepConfigError([Issue((), "the config contains itself (a YAML alias inside its own anchor)")],
                                   source=source)
        if depth > MAX_DEPTH:
            raise SweepConfigError([Issue((), f"the config is nested deeper than {MAX_DEPTH} levels")], source=source)
        open_ids.add(id(node))
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in children)


def load_yaml_text(text: str, *, source: str | None = None) -> Any:
    """Parse YAML text; syntax errors become a :class:`SweepConfigError` with the line, and so do
    documents too deep or too large (:func:`check_document`)."""
    try:
        raw = yaml.load(text, Loader=SweepYamlLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = getattr(exc, "problem", None) or str(exc)
        hint = _QUOTE_HINT if "${" in text or "found character" in str(problem) else ""
        raise SweepConfigError([Issue((), f"invalid YAML at {where}: {problem}{hint}")], source=source) from None
    check_document(raw, source=source)
    return raw


_QUOTE_HINT = (" (quote such values: in YAML, { } [ ] and , inside a [...] list, and a leading * & ! % @ or `, "
               "are syntax; write command: [\"${env}\", \"${interpreter}\", \"${program}\", \"${args}\"])")


def load_yaml_file(path: str | Path) -> Any:
    """Read and parse a YAML file; a missing file is a config error, not a traceback."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SweepConfigError([Issue((), f"cannot read config file: {exc.strerror}")], source=str(path)) from None
    return load_yaml_text(text, source=str(path))
