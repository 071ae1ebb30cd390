"""Saved task configs: one canonical JSON file per task under `$FORMCAST_HOME/tasks/`.

* Writes are atomic: a temp file beside the target, fsync, then `os.replace` (a crash or a failed
  write leaves the previous file whole).
* Nothing is lost: before a file is replaced or deleted, its content is kept under
  `tasks/.history/<name>/` (the last `keep` versions).
* Concurrent edits are detected: `load` returns the file's version (a hash of its bytes); `save`
  with that `expected_version` raises `ConflictError` if the file changed in between. The check
  and the write happen under an exclusive lock on `tasks/.lock`, so two processes cannot both pass.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from generators.diagnostics import Diagnostic
from generators.loading import parse_task, parse_task_text, task_to_json
from generators.tasks import Task

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
HISTORY_FILE_RE = re.compile(r"^(\d{20})-([0-9a-f]{16})\.json$")  # <time_ns>-<content version>.json
HISTORY_DIR = ".history"
DEFAULT_KEEP = 20


class TaskStoreError(Exception):
    """A task cannot be read, written or found."""


class InvalidTaskError(TaskStoreError):
    def __init__(self, message: str, diagnostics: list[Diagnostic]) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics


class ConflictError(TaskStoreError):
    """The file changed (or appeared, or vanished) since it was read: saving would overwrite someone's edit."""

    def __init__(self, name: str, expected: str | None, current: str | None) -> None:
        if current is None:
            what = f"task '{name}' was deleted since you opened it"
        elif expected is None:
            what = f"a task named '{name}' already exists"
        else:
            what = f"task '{name}' was changed by someone else since you opened it"
        super().__init__(what)
        self.name = name
        self.expected = expected
        self.current = current


@dataclass(frozen=True)
class StoredTask:
    name: str
    text: str
    version: str
    path: Path

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.text)


@dataclass(frozen=True)
class TaskEntry:
    name: str
    kind: str
    description: str
    target: str | None
    source: str | None
    modified: float
    version: str
    valid: bool


@dataclass(frozen=True)
class HistoryEntry:
    name: str
    path: Path
    saved_at: float
    version: str


def canonical_json(task: Task) -> str:
    """`task_to_json`, with the `kind` discriminators kept (task and steps).

    `task_to_json` dumps with exclude_defaults, and `kind` is a default of every kind's model, so
    its output does not parse back (`'kind' is missing`). Put the tags back where they belong.
    """
    data = json.loads(task_to_json(task))
    return json.dumps(_with_tags(task, data), indent=2) + "\n"


def _with_tags(model: Any, data: Any) -> Any:
    if isinstance(model, BaseModel) and isinstance(data, dict):
        fields = type(model).model_fields
        out: dict[str, Any] = {}
        if "kind" in fields:
            if "name" in data:
                out["name"] = data["name"]
            out["kind"] = model.kind
        for key, value in data.items():
            out.setdefault(key, _with_tags(getattr(model, key, None), value) if key in fields else value)
        return out
    if isinstance(model, list) and isinstance(data, list) and len(model) == len(data):
        return [_with_tags(m, d) for m, d in zip(model, data, strict=True)]
    return data


def content_version(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()[:16]


def check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise TaskStoreError(f"'{name}' is not a task name: lower-case letters, digits and underscores, "
                             "starting with a letter")
    return name


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def referenced_tables(data: dict[str, Any]) -> set[str]:
    """Logical tables a task config reads: its source, joined tables, step inputs and ref()s in SQL."""
    found: set[str] = set()

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "target":
                    continue
                walk(v, k)
        elif isinstance(node, list):
            for item in node:
                walk(item, key)
        elif isinstance(node, str):
            if key in ("source", "table", "input") and re.match(r"^[A-Za-z_]\w*\.[A-Za-z_]\w*$", node):
                found.add(node.lower())
            elif key == "sql":
                found.update(m.lower() for m in re.findall(r"ref\(\s*['\"]([\w]+\.[\w]+)['\"]\s*\)", node))

    walk(data)
    return found


class TaskStore:
    """Task configs in a folder. Safe across threads and processes on one machine (POSIX locks)."""

    def __init__(self, root: str | Path, keep: int = DEFAULT_KEEP) -> None:
        self.root = Path(root)
        self.keep = keep

    @classmethod
    def for_home(cls, home: str | Path | None = None, keep: int = DEFAULT_KEEP) -> TaskStore:
        base = Path(home or os.environ.get("FORMCAST_HOME", "").strip() or ".formcast")
        return cls(base.resolve() / "tasks", keep=keep)

    # --- paths and locking ---

    def path(self, name: str) -> Path:
        return self._inside(self.root / f"{check_name(name)}.json")

    def history_dir(self, name: str) -> Path:
        return self._inside(self.root / HISTORY_DIR / check_name(name))

    def _inside(self, path: Path) -> Path:
        """`path`, if it really lies in the store's folder (a symlink planted in the store leads nowhere else)."""
        root = self.root.resolve()
        if not path.resolve().is_relative_to(root):
            raise TaskStoreError(f"{path} leads outside the task folder {root}: refusing to use it")
        return path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _current(self, name: str) -> bytes | None:
        try:
            return self.path(name).read_bytes()
        except FileNotFoundError:
            return None

    # --- reading ---

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("*.json") if NAME_RE.match(p.stem))

    def load(self, name: str) -> StoredTask:
        raw = self._current(name)
        if raw is None:
            raise TaskStoreError(f"no saved task named '{name}'")
        return StoredTask(name, raw.decode("utf-8"), content_version(raw), self.path(name))

    def version(self, name: str) -> str | None:
        raw = self._current(name)
        return None if raw is None else content_version(raw)

    def list(self) -> list[TaskEntry]:
        entries = []
        for name in self.names():
            path = self.path(name)
            try:
                raw = path.read_bytes()
                stat = path.stat()
            except FileNotFoundError:  # deleted meanwhile
                continue
            try:
                data = json.loads(raw)
            except ValueError:
                data = {}
            data = data if isinstance(data, dict) else {}
            task, _ = parse_task(data)
            target = data.get("target") if isinstance(data.get("target"), dict) else {}
            entries.append(TaskEntry(
                name=name, kind=str(data.get("kind", "?")), description=str(data.get("description", "")),
                target=target.get("table"), source=data.get("source"), modified=stat.st_mtime,
                version=content_version(raw), valid=task is not None,
            ))
        return entries

    # --- writing ---

    def save(self, task: Task | dict[str, Any], expected_version: str | None = None, *,
             overwrite: bool = False) -> StoredTask:
        """Save a task (validated) as canonical JSON and return what was written, with its new version.

        `expected_version`: the version read when the task was opened, or None for a new task.
        If the file on disk is not at that version, ConflictError — unless `overwrite`.
        """
        if isinstance(task, dict):
            parsed, problems = parse_task(task)
            if parsed is None:
                raise InvalidTaskError("the task config is invalid", problems)
            task = parsed
        text = canonical_json(task)
        name = check_name(task.name)
        with self._locked():
            current = self._current(name)
            current_version = None if current is None else content_version(current)
            if not overwrite and current_version != expected_version:
                raise ConflictError(name, expected_version, current_version)
            if current is not None and current.decode("utf-8", "replace") == text:
                return StoredTask(name, text, current_version or "", self.path(name))
            if current is not None:
                self._archive(name, current)
            atomic_write(self.path(name), text.encode("utf-8"))
        return StoredTask(name, text, content_version(text), self.path(name))

    def delete(self, name: str, expected_version: str | None = None) -> None:
        """Delete a task; its last content is kept in the history. ConflictError if it changed."""
        with self._locked():
            current = self._current(name)
            if current is None:
                raise TaskStoreError(f"no saved task named '{name}'")
            if expected_version is not None and content_version(current) != expected_version:
                raise ConflictError(name, expected_version, content_version(current))
            self._archive(name, current)
            self.path(name).unlink()

    def duplicate(self, name: str, new_name: str) -> StoredTask:
        data = self.load(name).data
        data["name"] = check_name(new_name)
        return self.save(data, None)

    # --- history ---

    def _archive(self, name: str, content: bytes) -> None:
        folder = self.history_dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = f"{time.time_ns():020d}"
        atomic_write(folder / f"{stamp}-{content_version(content)}.json", content)
        versions = sorted(folder.glob("*.json"))
        for old in versions[: max(0, len(versions) - self.keep)]:
            with contextlib.suppress(OSError):
                old.unlink()

    def history(self, name: str) -> list[HistoryEntry]:
        """Previous versions, newest first."""
        folder = self.history_dir(name)
        if not folder.is_dir():
            return []
        entries = []
        for path in sorted(folder.glob("*.json"), reverse=True):
            match = HISTORY_FILE_RE.match(path.name)
            if match is None or path.is_symlink() or not path.is_file():
                continue  # not a file this store wrote
            entries.append(HistoryEntry(name, path, int(match[1]) / 1e9, match[2]))
        return entries

    def history_entry(self, name: str, file_name: str) -> HistoryEntry:
        """The history entry `file_name` of task `name` (as a UI or CLI names it), checked."""
        match = HISTORY_FILE_RE.match(file_name)
        if match is None:
            raise TaskStoreError(f"'{file_name}' is not a history file name (<time>-<version>.json)")
        path = self.history_dir(name) / file_name
        if path.is_symlink() or not path.is_file():
            raise TaskStoreError(f"task '{name}' has no history entry '{file_name}'")
        return HistoryEntry(name, path, int(match[1]) / 1e9, match[2])

    def restore(self, entry: HistoryEntry, expected_version: str | None) -> StoredTask:
        """Make a previous version current again (the replaced one goes to the history in turn)."""
        checked = self.history_entry(entry.name, entry.path.name)
        if entry.path.resolve() != checked.path.resolve():
            raise TaskStoreError(f"{entry.path} is not in the history of task '{entry.name}'")
        data = json.loads(checked.path.read_text(encoding="utf-8"))
        return self.save(data, expected_version)

    # --- import / export ---

    def export_text(self, name: str) -> str:
        return self.load(name).text

    def import_text(self, text: str, *, overwrite: bool = False) -> StoredTask:
        """Save a config given as JSON text; InvalidTaskError with located problems if it is not a valid task."""
        task, problems = parse_task_text(text, "uploaded file")
        if task is None:
            raise InvalidTaskError("the uploaded config is invalid", problems)
        return self.save(task, self.version(task.name) if overwrite else None, overwrite=overwrite)
