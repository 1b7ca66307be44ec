"""What a run needs on the machine: installs the Python parts, reports the rest."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from processes import find_binary

#: Import name -> the distribution pip installs it from.
PYTHON_PACKAGES = {"gunicorn": "gunicorn", "whitenoise": "whitenoise"}

#: Binary -> the Debian package that ships it.
SYSTEM_PACKAGES = {"wrk": "wrk", "nginx": "nginx-light", "redis-server": "redis-server"}


class MissingPrerequisite(RuntimeError):
    """Something the run needs is not there and cannot be installed from here."""


def ensure() -> None:
    """Install missing Python packages with pip; raise if a system one is missing."""
    missing = [
        dist
        for module, dist in PYTHON_PACKAGES.items()
        if importlib.util.find_spec(module) is None
    ]
    if missing:
        print(f"installing {' '.join(missing)} into {sys.prefix} with pip")
        finished = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", *missing], check=False
        )
        if finished.returncode != 0:
            raise MissingPrerequisite(
                f"pip could not install {' '.join(missing)}; install them into"
                f" {sys.prefix} and run again"
            )

    else:
        print(f"found {', '.join(PYTHON_PACKAGES)} in {sys.prefix}")

    absent = [name for name in SYSTEM_PACKAGES if find_binary(name) is None]
    if absent:
        packages = " ".join(SYSTEM_PACKAGES[name] for name in absent)
        raise MissingPrerequisite(
            f"missing {', '.join(absent)}; install with:\n"
            f"  sudo apt-get install -y {packages}"
        )

    found = ", ".join(f"{name} ({find_binary(name)})" for name in SYSTEM_PACKAGES)
    print(f"found {found}")
