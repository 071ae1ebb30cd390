"""Every test runs with its own config dir (saved `formcast login` tokens) and no inherited FORMCAST_TOKEN."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def isolated_credentials() -> Iterator[None]:
    with tempfile.TemporaryDirectory(prefix="formcast-xdg-") as folder, pytest.MonkeyPatch.context() as mp:
        os.chmod(folder, 0o700)
        mp.setenv("XDG_CONFIG_HOME", folder)
        mp.delenv("FORMCAST_TOKEN", raising=False)
        mp.delenv("FORMCAST_USER", raising=False)
        yield
