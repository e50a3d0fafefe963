"""The one exception type sweeprunner raises for bad input, and its key-path records."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

KeyPath = tuple[str | int, ...]


def format_path(path: KeyPath) -> str:
    """Render ``("parameters", "lr", "min")`` as ``parameters.lr.min``, indices as ``[2]``, and a key
    holding a dot as ``["a.b"]``, so it reads apart from the nested ``a.b``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "." in part and out:
            out += f'["{part}"]'
        else:
            out += f".{part}" if out else str(part)
    return out or "<config>"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ``" (did you mean 'x'?)"`` hint, or ``""`` when nothing is close."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class Issue:
    """One broken rule at one key path."""

    path: KeyPath
    message: str

    def __str__(self) -> str:
        return f"{format_path(self.path)}: {self.message}" if self.path else self.message


class SweepConfigError(ValueError):
    """Every problem found in a sweep config, each with its key path."""

    def __init__(self, issues: Sequence[Issue], *, source: str | None = None) -> None:
        self.issues = tuple(issues)
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(prefix + str(issue) for issue in self.issues))

    @classmethod
    def single(cls, path: KeyPath, message: str, *, source: str | None = None) -> SweepConfigError:
        return cls([Issue(path, message)], source=source)
