"""A separate virtualenv with Apache Airflow (its pins clash with ours), built once and reused.

`~/.cache/formcast/airflow-venv-<version>/`; a `.formcast-ok` file marks a finished build. PyPI's
package metadata pins what matters (Airflow 2.x requires SQLAlchemy < 2); the constraints files that
Airflow publishes live outside the package registries and are used when reachable.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

AIRFLOW_VERSION = os.environ.get("FORMCAST_AIRFLOW_VERSION", "2.10.5")
PY = f"{sys.version_info.major}.{sys.version_info.minor}"
CONSTRAINTS = f"https://raw.githubusercontent.com/apache/airflow/constraints-{AIRFLOW_VERSION}/constraints-{PY}.txt"


def venv_dir() -> Path:
    return Path.home() / ".cache" / "formcast" / f"airflow-venv-{AIRFLOW_VERSION}"


def _constraints_reachable() -> bool:
    try:
        with urllib.request.urlopen(CONSTRAINTS, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def airflow_python(build: bool = True, timeout: float = 1800) -> tuple[Path | None, str]:
    """The venv's python, building the venv first if needed; (None, why) when it cannot be had."""
    root = venv_dir()
    python = root / "bin" / "python"
    if (root / ".formcast-ok").exists() and python.exists():
        return python, ""
    if not build:
        return None, f"no Airflow venv at {root}"
    log = root.with_suffix(".log")
    root.parent.mkdir(parents=True, exist_ok=True)
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, capture_output=True, timeout=300)
        command = [str(python), "-m", "pip", "install", "--quiet", f"apache-airflow=={AIRFLOW_VERSION}"]
        if _constraints_reachable():
            command += ["--constraint", CONSTRAINTS]
        with log.open("w") as out:
            subprocess.run(command, check=True, stdout=out, stderr=subprocess.STDOUT, timeout=timeout,
                           env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
        check = subprocess.run([str(python), "-c", "import airflow; print(airflow.__version__)"],
                               capture_output=True, text=True, timeout=300,
                               env={**os.environ, "AIRFLOW_HOME": str(root / "airflow_home")})
        if check.returncode != 0:
            return None, f"Airflow does not import in {root}: {check.stderr.strip().splitlines()[-1:]}"
    except (subprocess.SubprocessError, OSError) as err:
        return None, f"cannot build the Airflow venv at {root} ({err}); see {log}"
    (root / ".formcast-ok").write_text(AIRFLOW_VERSION + "\n")
    return python, ""


if __name__ == "__main__":
    found, why = airflow_python()
    print(found or why)
