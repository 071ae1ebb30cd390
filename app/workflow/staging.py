"""Atomic writes of file targets: the engine writes into a staging folder, then we swap it in.

A failed run removes its staging folder and leaves the target exactly as it was. The swap is a
rename on the same filesystem (the staging folder is a sibling of the target), so readers see the
old or the new data, never a half-written partition.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

HIDDEN_PREFIXES = ("_", ".")


def staging_path(target: str, run_id: str) -> str:
    target_path = Path(target)
    return str(target_path.parent / f".{target_path.name}.staging-{run_id}")


def is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def _data_entries(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if not p.name.startswith(HIDDEN_PREFIXES)] if folder.exists() else []


def _replace_dir(new: Path, old: Path) -> None:
    """Put `new` where `old` is, keeping the old one until the rename succeeded."""
    trash = old.parent / f".{old.name}.trash-{uuid.uuid4().hex[:8]}"
    if old.exists():
        os.replace(old, trash)
    try:
        os.replace(new, old)
    except OSError:
        if trash.exists():
            os.replace(trash, old)
        raise
    shutil.rmtree(trash, ignore_errors=True)


def commit(staging: str, target: str, mode: str, partitioned: bool) -> None:
    """Publish what the engine wrote in `staging` into `target` according to the write mode."""
    stage, dest = Path(staging), Path(target)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if mode in ("overwrite", "upsert") or (mode == "overwrite_partition" and not partitioned):
        _replace_dir(stage, dest)
        return
    dest.mkdir(parents=True, exist_ok=True)
    if mode == "overwrite_partition":
        for partition in _data_entries(stage):
            _replace_partition(partition, dest / partition.name)
    else:  # append: move files in, partition folders included; Spark's part names are unique
        for entry in _data_entries(stage):
            _move_into(entry, dest / entry.name)
    shutil.rmtree(stage, ignore_errors=True)


def _replace_partition(new: Path, old: Path) -> None:
    if new.is_dir() and any(child.is_dir() and "=" in child.name for child in new.iterdir()):
        old.mkdir(exist_ok=True)  # nested partitions (ds=/hour=): replace the leaves
        for child in _data_entries(new):
            _replace_partition(child, old / child.name)
        return
    _replace_dir(new, old)


def _move_into(src: Path, dest: Path) -> None:
    if src.is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        for child in _data_entries(src):
            _move_into(child, dest / child.name)
    else:
        os.replace(src, dest)


def discard(staging: str) -> None:
    shutil.rmtree(staging, ignore_errors=True)
