"""Atomic publishing of file targets, and the repair of publishes a killed process left behind.

The engine writes a run's output into a staging folder beside the target, `.<name>.staging-<run>`
(the same folder, so the same filesystem). Publishing then has one commit point:

1. `staged`    the engine's output is complete in the staging folder;
2. `prepared`  the staging folder has become the whole new table: the rows the write mode keeps are
               hard-linked in (untouched partitions for overwrite_partition, every file for append) and
               a marker `_FORMCAST_PUBLISH` names the run;
3. `committed` ONE atomic exchange of the staging folder and the target (renameat2 RENAME_EXCHANGE):
               readers see the old table or the new one, never a mix and never nothing;
4. `cleaned`   the old table, now under the staging name, is removed.

A `Publication` opens the target's folder before the engine writes and holds it to the end; every
step goes through that descriptor, so a symlink planted meanwhile cannot redirect the exchange. The
folder's real path (read from the descriptor itself) must still be the target's, and the target and
staging folder go through the isolation guard when the folder is opened and again before the commit.

Where the filesystem cannot exchange (RENAME_EXCHANGE unsupported), the commit is two renames:
target → `.<name>.trash-<run>` (`moved-aside`), then staging → target. `recover` puts the trash back
if the process died between them. `recover` also removes what any killed publish left: a staging
folder (never committed: rolled back) or the old table (committed: finished). A failed publish
removes its staging folder; nothing stays in the target's folder.

`FAULT_POINTS` name the steps; `set_fault_hook` lets the crash tests kill the process at each one.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import shutil
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

HIDDEN_PREFIXES = ("_", ".")
MARKER = "_FORMCAST_PUBLISH"
FAULT_POINTS = ("staged", "prepared", "moved-aside", "committed", "cleaned")
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<what>staging|trash)-(?P<run>[0-9a-f-]{6,36})$")
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class PublishRefused(OSError):
    """The publish would write where it must not (isolation), or the target changed under the run."""


Guard = Callable[[str], None]  # raises PublishRefused for a real path that must not be written

_fault_hook: Callable[[str], None] | None = None


def set_fault_hook(hook: Callable[[str], None] | None) -> None:
    """Call `hook(point)` at every step of every publish (tests kill the process there)."""
    global _fault_hook
    _fault_hook = hook


def _fault(point: str) -> None:
    if _fault_hook is not None:
        _fault_hook(point)


def staging_path(target: str, run_id: str) -> str:
    target_path = Path(target)
    return str(target_path.parent / f".{target_path.name}.staging-{run_id}")


def trash_path(target: str, run_id: str) -> str:
    target_path = Path(target)
    return str(target_path.parent / f".{target_path.name}.trash-{run_id}")


def leftover_of(name: str) -> tuple[str, str, str] | None:
    """(target name, 'staging' | 'trash', run id) for a folder name a publish leaves behind, else None."""
    match = _LEFTOVER.match(name)
    return (match["name"], match["what"], match["run"]) if match else None


# --- the target's folder, through one descriptor -------------------------------------------------


class _Folder:
    """The target's parent folder, opened once; every operation is relative to this descriptor."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        self.path = path

    def close(self) -> None:
        os.close(self.fd)

    def real_path(self) -> str:
        """Where the descriptor really points (not what the path string says now)."""
        try:
            return os.readlink(f"/proc/self/fd/{self.fd}")
        except OSError:  # no /proc (macOS): the path, resolved now
            return os.path.realpath(self.path)

    def base(self) -> str:
        """A path prefix that reaches this folder through the descriptor itself where the system allows it,
        so later path operations cannot be redirected by a symlink swapped into the path."""
        magic = f"/proc/self/fd/{self.fd}"
        return magic if os.path.isdir(magic) else self.path

    def lstat(self, name: str) -> os.stat_result | None:
        try:
            return os.lstat(name, dir_fd=self.fd)
        except FileNotFoundError:
            return None

    def is_dir(self, name: str) -> bool:
        st = self.lstat(name)
        return st is not None and stat.S_ISDIR(st.st_mode)

    def rename(self, src: str, dst: str) -> None:
        os.rename(src, dst, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def exchange(self, a: str, b: str) -> bool:
        """Swap two entries atomically; False when the system cannot (the caller falls back)."""
        libc = _libc()
        if libc is None:
            return False
        if libc.renameat2(self.fd, a.encode(), self.fd, b.encode(), _RENAME_EXCHANGE) == 0:
            return True
        code = ctypes.get_errno()
        if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
            return False
        raise OSError(code, os.strerror(code), b)

    def remove_tree(self, name: str) -> None:
        """Remove a folder of ours; a symlink in its place is only unlinked, never followed."""
        st = self.lstat(name)
        if st is None:
            return
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(name, dir_fd=self.fd, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=self.fd)


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "renameat2"):
        return None
    libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return libc


# --- publishing ----------------------------------------------------------------------------------


@dataclass
class Published:
    atomic: bool  # one exchange (False: two renames, the filesystem cannot exchange)
    linked: int  # entries of the old table kept by hard link


class Publication:
    """One run's publish into a file target. The target's folder is opened (and checked) before the engine
    writes and held until the end: publishing and cleaning up act on that folder even if its path is
    re-pointed meanwhile. Use as a context manager; leaving it without a commit removes the staging folder.

    `guard(real_path)` raises PublishRefused where writing is not allowed (isolation); it runs on the
    target and on the staging folder as they really are, when opened and again just before the commit."""

    def __init__(self, target: str, run_key: str, guard: Guard) -> None:
        self.target, self.run_key, self.guard = target, run_key, guard
        self.parent, self.name = str(Path(target).parent), Path(target).name
        self.staging = staging_path(target, run_key)
        self.stage_name = Path(self.staging).name
        self.committed = False
        Path(self.parent).mkdir(parents=True, exist_ok=True)
        self._folder = _Folder(self.parent)
        try:
            self._check_folder()
        except BaseException:
            self._folder.close()
            raise

    def __enter__(self) -> Publication:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_folder(self) -> str:
        real = self._folder.real_path()
        if os.path.normpath(real) != os.path.normpath(self.parent):
            raise PublishRefused(f"the target's folder {self.parent} is now {real}: it was moved or re-pointed "
                                 "during the run; nothing was published")
        for name in (self.name, self.stage_name):
            self.guard(os.path.join(real, name))
        return real

    def publish(self, mode: str, partitioned: bool) -> Published:
        """Make the staging folder the content of the target per the write mode, with one commit point."""
        folder = self._folder
        _fault("staged")
        self._check_folder()
        current = folder.lstat(self.name)
        if current is not None and not stat.S_ISDIR(current.st_mode):
            raise PublishRefused(f"{self.target} is not a folder (a symbolic link or a file): nothing was published")
        if folder.lstat(self.stage_name) is None:
            os.mkdir(self.stage_name, dir_fd=folder.fd)  # the engine wrote no rows (and no folder)
        elif not folder.is_dir(self.stage_name):
            raise PublishRefused(f"the staging folder {self.staging} is not a folder: nothing was published")
        base = folder.base()
        linked = _prepare(os.path.join(base, self.stage_name), os.path.join(base, self.name), mode, partitioned,
                          current is not None, self.run_key)
        _fault("prepared")
        atomic = _commit(folder, self.stage_name, self.name, self.run_key, current is not None)
        self.committed = True
        _fault("committed")
        folder.remove_tree(self.stage_name)  # the old table, after an exchange
        folder.remove_tree(Path(trash_path(self.target, self.run_key)).name)  # after two renames
        _fault("cleaned")
        return Published(atomic, linked)

    def close(self) -> None:
        """Remove the staging folder unless committed: where it really is, and where its path leads now."""
        try:
            if not self.committed:
                self._folder.remove_tree(self.stage_name)
                discard(self.staging)
        finally:
            self._folder.close()


def _commit(folder: _Folder, stage: str, target: str, run_id: str, exists: bool) -> bool:
    if not exists:
        folder.rename(stage, target)  # fails rather than replace a table that appeared meanwhile
        return True
    if folder.exchange(stage, target):
        return True
    trash = Path(trash_path(target, run_id)).name
    folder.rename(target, trash)
    _fault("moved-aside")
    try:
        folder.rename(stage, target)
    except BaseException:
        folder.rename(trash, target)
        raise
    return False


def _prepare(stage: str, target: str, mode: str, partitioned: bool, exists: bool, run_id: str) -> int:
    """Hard-link into the staging folder what the write mode keeps of the target; write the marker."""
    linked = 0
    if exists and mode == "append":
        linked = _merge(Path(target), Path(stage), replace_leaves=False)
    elif exists and mode == "overwrite_partition" and partitioned:
        linked = _merge(Path(target), Path(stage), replace_leaves=True)
    marker = Path(stage) / MARKER
    marker.write_text(json.dumps({"run_id": run_id}) + "\n", encoding="utf-8")
    return linked


def _is_partition_folder(path: Path) -> bool:
    return any(child.is_dir() and "=" in child.name for child in path.iterdir())


def _merge(old: Path, new: Path, replace_leaves: bool) -> int:
    """Link every entry of `old` that `new` lacks into `new`; folders both have are merged, except a leaf
    partition `new` has (replace_leaves: it replaces the old one). Returns how many entries were linked."""
    linked = 0
    for entry in old.iterdir():
        if entry.name == MARKER or leftover_of(entry.name):
            continue
        mine = new / entry.name
        if not os.path.lexists(mine):
            linked += _link_tree(entry, mine)
        elif entry.is_dir() and not entry.is_symlink() and mine.is_dir():
            if replace_leaves and not _is_partition_folder(mine):
                continue  # this partition is replaced
            linked += _merge(entry, mine, replace_leaves)
        elif not entry.name.startswith(HIDDEN_PREFIXES) and not replace_leaves:
            raise PublishRefused(f"{mine} already exists in the target: appending would overwrite it")
    return linked


def _link_tree(src: Path, dst: Path) -> int:
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
        return 1
    if src.is_dir():
        dst.mkdir()
        shutil.copystat(src, dst)
        return 1 + sum(_link_tree(child, dst / child.name) for child in src.iterdir())
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:  # no hard links here (another filesystem, a policy): a copy keeps the data
        shutil.copy2(src, dst)
    return 1


def _committed(target: str, run_id: str) -> bool:
    """Whether `target` holds the output of run `run_id` (its marker says so)."""
    try:
        data = json.loads((Path(target) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and str(data.get("run_id", "")).startswith(run_id)


def discard(staging: str) -> None:
    """Remove a staging folder (a symlink in its place is unlinked, never followed)."""
    parent = str(Path(staging).parent)
    try:
        folder = _Folder(parent)
    except OSError:
        return
    try:
        folder.remove_tree(Path(staging).name)
    finally:
        folder.close()


# --- recovery ------------------------------------------------------------------------------------


@dataclass
class Recovered:
    committed: bool  # the run's output is in the target
    removed: list[str]  # leftover folders removed
    restored: bool = False  # the old table was put back from the trash


def recover(target: str, run_id: str) -> Recovered:
    """Finish or roll back the publish of run `run_id` into `target`, whose process is gone."""
    parent, name = str(Path(target).parent), Path(target).name
    stage, trash = Path(staging_path(target, run_id)).name, Path(trash_path(target, run_id)).name
    try:
        folder = _Folder(parent)
    except OSError:
        return Recovered(False, [])
    try:
        removed: list[str] = []
        restored = False
        if folder.lstat(name) is None and folder.is_dir(trash):
            folder.rename(trash, name)  # killed between the two renames of a fallback commit: roll back
            restored = True
        committed = _committed(target, run_id)
        for leftover in (stage, trash):
            if folder.lstat(leftover) is not None:
                folder.remove_tree(leftover)
                removed.append(os.path.join(parent, leftover))
        return Recovered(committed, removed, restored)
    finally:
        folder.close()


def sweep(target: str, live: Callable[[str], bool]) -> list[str]:
    """Remove staging and trash folders of `target` whose run is not `live`; returns what was removed."""
    parent, name = Path(target).parent, Path(target).name
    removed: list[str] = []
    if not parent.is_dir():
        return removed
    for entry in parent.iterdir():
        found = leftover_of(entry.name)
        if found is None or found[0] != name or live(found[2]):
            continue
        result = recover(target, found[2])
        removed += result.removed
    return removed
