"""The CLI's saved sign-ins: one token per catalog in `$XDG_CONFIG_HOME/formcast/credentials.json`.

`formcast login` writes it, `formcast logout` removes the entry. The file is created 0600 in a 0700
folder and written atomically; a file that others can read, or that another user owns, is refused
(the token in it would be someone else's to use) instead of silently trusted.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path

FILE_NAME = "credentials.json"


class CredentialsError(Exception):
    """The credentials file cannot be trusted or read; the message says how to fix it."""


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".config") / "formcast"


def path() -> Path:
    return config_dir() / FILE_NAME


def _check(file: Path) -> None:
    info = file.stat()
    if info.st_uid != os.getuid():
        raise CredentialsError(f"{file} belongs to another user (uid {info.st_uid}): remove it and run formcast login")
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(f"{file} is accessible by other users (mode {stat.S_IMODE(info.st_mode):04o}): "
                               f"its tokens may have leaked; revoke them (formcast user token list / revoke), "
                               f"then chmod 600 {file} or remove it and run formcast login")


def _read(file: Path) -> dict[str, dict[str, str]]:
    if not file.exists():
        return {}
    _check(file)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CredentialsError(f"{file} is not readable JSON ({err}): remove it and run formcast login") from None
    catalogs = data.get("catalogs") if isinstance(data, dict) else None
    return catalogs if isinstance(catalogs, dict) else {}


def _write(file: Path, catalogs: dict[str, dict[str, str]]) -> None:
    file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(file.parent, 0o700)
    handle, temp = tempfile.mkstemp(prefix=".credentials-", dir=file.parent)  # created 0600
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"catalogs": catalogs}, out, indent=2, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, file)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def load(catalog_url: str) -> str | None:
    """The saved token for this catalog, or None."""
    entry = _read(path()).get(catalog_url)
    token = entry.get("token") if isinstance(entry, dict) else None
    return token if isinstance(token, str) else None


def save(catalog_url: str, token: str, account: str) -> Path:
    file = path()
    catalogs = _read(file)
    catalogs[catalog_url] = {"token": token, "account": account}
    _write(file, catalogs)
    return file


def forget(catalog_url: str) -> str | None:
    """Remove this catalog's entry; returns the token it held (to revoke it), or None."""
    file = path()
    catalogs = _read(file)
    entry = catalogs.pop(catalog_url, None)
    if entry is None:
        return None
    _write(file, catalogs)
    return entry.get("token") if isinstance(entry, dict) else None
