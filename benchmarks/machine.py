"""What the numbers were measured on: processor, cores, Python and package versions."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from importlib import metadata

from processes import find_binary

PACKAGES = (
    "flask-heady-edge",
    "Flask",
    "Werkzeug",
    "limits",
    "Flask-Caching",
    "requests",
    "redis",
    "gunicorn",
    "whitenoise",
)

BINARIES = {
    "wrk": ["-v"],
    "nginx": ["-v"],
    "redis-server": ["--version"],
}


def describe() -> list[tuple[str, str]]:
    """``(what, value)`` pairs for the results file."""
    facts = [
        ("code", _code_version()),
        ("CPU", _cpu_model()),
        ("cores", str(os.cpu_count())),
        ("memory", _memory()),
        ("kernel", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
    ]
    versions = ", ".join(f"{name} {_version(name)}" for name in PACKAGES)
    facts.append(("packages", versions))
    for binary, flags in BINARIES.items():
        facts.append((binary, _binary_version(binary, flags)))

    return facts


def _code_version() -> str:
    """The commit measured, and whether the package differed from it."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(
            ["git", "-C", root, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--", "flask_heady_edge"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"

    state = "with uncommitted changes" if changed else "as committed"
    return f"commit {commit}, flask_heady_edge/ {state}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass

    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            kib = int(meminfo.readline().split()[1])
    except (OSError, IndexError, ValueError):
        return "unknown"

    return f"{kib / 1024 / 1024:.1f} GiB"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _binary_version(name: str, flags: list[str]) -> str:
    path = find_binary(name)
    if path is None:
        return "not installed"

    finished = subprocess.run(
        [path, *flags], capture_output=True, text=True, timeout=10, check=False
    )
    output = (finished.stdout or finished.stderr).strip().splitlines()
    return output[0] if output else "unknown"


def cpu_busy(seconds: float = 0.2) -> float:
    """The share of all CPUs busy over the next ``seconds``, from /proc/stat.

    Sampled while none of the run's servers is loaded, it tells how much
    other work the machine was doing: that work competes with every row.
    """
    first = _cpu_times()
    time.sleep(seconds)
    second = _cpu_times()
    total = sum(second) - sum(first)
    # Fields 4 and 5 are idle and iowait (proc(5)).
    idle = (second[3] + second[4]) - (first[3] + first[4])
    return 1 - idle / total if total > 0 else 0.0


def _cpu_times() -> list[int]:
    with open("/proc/stat", encoding="ascii") as stat:
        return [int(value) for value in stat.readline().split()[1:9]]
