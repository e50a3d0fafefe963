"""``wandb.Artifact``, ``log_artifact`` and ``use_artifact``, kept in the trial directory.

A logged artifact is copied to ``<trial dir>/artifacts/<name>/v<N>/`` with a ``manifest.json``
(name, type, description, metadata, aliases, files, references). ``use_artifact("name:alias")``
finds it there, or in another trial of the same sweep; ``alias`` is ``latest`` (the default),
``v<N>`` or an alias given when it was logged.

Importing this module never imports Ray.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["Artifact", "store_artifact", "find_artifact"]

MANIFEST = "manifest.json"


class Artifact:
    """``wandb.Artifact(name, type, description=None, metadata=None)``."""

    def __init__(self, name: str, type: str, description: str | None = None,   # noqa: A002 -- W&B's name
                 metadata: dict[str, Any] | None = None, **_: Any) -> None:
        if not re.fullmatch(r"[\w.-]+", name or ""):
            raise ValueError(f"artifact name {name!r}: use letters, digits, '-', '_' and '.'")
        self.name, self.type, self.description = name, type, description
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.version: str | None = None
        self.aliases: list[str] = []
        self._entries: dict[str, Path] = {}
        self._references: list[dict[str, Any]] = []
        self._staging: tempfile.TemporaryDirectory[str] | None = None
        self._dir: Path | None = None

    # -- building
    def add_file(self, local_path: str | Path, name: str | None = None, **_: Any) -> str:
        path = Path(local_path)
        if not path.is_file():
            raise ValueError(f"Artifact.add_file: no file {path}")
        key = name or path.name
        self._entries[key] = path
        return key

    def add_dir(self, local_path: str | Path, name: str | None = None, **_: Any) -> None:
        root = Path(local_path)
        if not root.is_dir():
            raise ValueError(f"Artifact.add_dir: no directory {root}")
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root).as_posix()
            self._entries[f"{name}/{rel}" if name else rel] = path

    @contextlib.contextmanager
    def new_file(self, name: str, mode: str = "w", encoding: str | None = None) -> Iterator[IO[Any]]:
        if self._staging is None:
            self._staging = tempfile.TemporaryDirectory(prefix="sweeprunner-artifact-")
        path = Path(self._staging.name) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open(mode.replace("x", "w"), encoding=encoding) as fh:
            yield fh
        self._entries[name] = path

    def add(self, obj: Any, name: str) -> None:
        """Add a media object (a Table, an Image...) as a file."""
        if self._staging is None:
            self._staging = tempfile.TemporaryDirectory(prefix="sweeprunner-artifact-")
        path = obj.write(Path(self._staging.name) / name)
        self._entries[name + path.suffix] = path

    def add_reference(self, uri: str, name: str | None = None, **_: Any) -> None:
        """Recorded in the manifest; nothing is downloaded."""
        self._references.append({"uri": str(uri), "name": name})

    # -- using
    def download(self, root: str | None = None, **_: Any) -> str:
        if self._dir is None:
            raise ValueError(f"artifact {self.name!r} has not been logged or found yet")
        if root is None:
            return str(self._dir)
        shutil.copytree(self._dir, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns(MANIFEST))
        return str(root)

    def file(self, root: str | None = None) -> str:
        files = [f for f in self.files() if f != MANIFEST]
        if len(files) != 1:
            raise ValueError(f"artifact {self.name!r} holds {len(files)} files, not one")
        return str(Path(self.download(root)) / files[0])

    def files(self) -> list[str]:
        if self._dir is None:
            return sorted(self._entries)
        return sorted(p.relative_to(self._dir).as_posix() for p in self._dir.rglob("*") if p.is_file())

    def get_path(self, name: str) -> Path:
        if self._dir is None:
            raise ValueError(f"artifact {self.name!r} has not been logged or found yet")
        return self._dir / name

    @property
    def qualified_name(self) -> str:
        return f"{self.name}:{self.version or 'latest'}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Kept for compatibility: ``run.log_artifact`` is what stores an artifact."""

    def wait(self, *args: Any, **kwargs: Any) -> Artifact:
        return self

    def __repr__(self) -> str:
        return f"<Artifact {self.qualified_name} type={self.type}>"


def _versions(folder: Path) -> list[int]:
    return sorted(int(p.name[1:]) for p in folder.glob("v*") if p.name[1:].isdigit())


def store_artifact(artifact: Artifact, root: Path, aliases: Iterable[str] = ()) -> Path:
    """Copy ``artifact`` to ``root/<name>/v<N>/`` (the next N) with its manifest; return that folder."""
    folder = root / artifact.name
    folder.mkdir(parents=True, exist_ok=True)
    version = (_versions(folder) or [-1])[-1] + 1
    target = folder / f"v{version}"
    target.mkdir()
    for rel, src in artifact._entries.items():
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
    artifact.version = f"v{version}"
    artifact.aliases = ["latest", artifact.version, *(a for a in aliases if a not in ("latest",))]
    artifact._dir = target
    manifest = {"name": artifact.name, "type": artifact.type, "description": artifact.description,
                "metadata": artifact.metadata, "aliases": artifact.aliases,
                "files": sorted(artifact._entries), "references": artifact._references}
    (target / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str))
    return target


def find_artifact(spec: str, roots: Iterable[Path], type: str | None = None) -> Artifact:  # noqa: A002
    """The artifact ``[entity/project/]name[:alias]`` stored under one of ``roots`` (first found)."""
    name, _, alias = spec.rpartition("/")[2].partition(":")
    alias = alias or "latest"
    searched = []
    for root in roots:
        folder = root / name
        searched.append(str(root))
        versions = _versions(folder)
        if not versions:
            continue
        chosen = None
        if alias == "latest":
            chosen = versions[-1]
        elif re.fullmatch(r"v\d+", alias) and int(alias[1:]) in versions:
            chosen = int(alias[1:])
        else:
            for v in reversed(versions):
                manifest = json.loads((folder / f"v{v}" / MANIFEST).read_text())
                if alias in manifest.get("aliases", []):
                    chosen = v
                    break
        if chosen is None:
            continue
        manifest = json.loads((folder / f"v{chosen}" / MANIFEST).read_text())
        artifact = Artifact(name, manifest.get("type", type or "unspecified"),
                            manifest.get("description"), manifest.get("metadata"))
        artifact.version, artifact.aliases = f"v{chosen}", list(manifest.get("aliases", []))
        artifact._dir = folder / f"v{chosen}"
        return artifact
    raise ValueError(f"no artifact {name!r} with alias {alias!r}: looked in " + ", ".join(searched or ["-"]))
