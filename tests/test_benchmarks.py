"""The benchmark command still runs every row, in its quick mode."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .servers import require_binary

ROOT = Path(__file__).resolve().parent.parent

#: The rows of the table, by number: one or more lines each.
EXPECTED_ROWS = {"1", "2", "3", "4", "4b", "5", "6"}

NUMBER = re.compile(r"\d[\d,]*(\.\d+)? ")


def table_rows(markdown: str) -> list[list[str]]:
    """The cells of each row of the results table, header and rule left out."""
    lines = [line for line in markdown.splitlines() if line.startswith("| ")]
    return [
        [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        for line in lines[2:]
    ]


@pytest.mark.benchmark
def test_quick_benchmark_gives_every_row_a_number(tmp_path: Path) -> None:
    for binary in ("wrk", "nginx", "redis-server"):
        require_binary(binary)

    output = tmp_path / "RESULTS.md"
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "run.py"),
        "--quick",
        "--output",
        str(output),
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        printed, _ = process.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        # SIGTERM, not SIGKILL: the command stops its servers on the way out.
        process.terminate()
        printed, _ = process.communicate(timeout=60)
        pytest.fail(f"the quick benchmark took over 240 s:\n{printed}")

    assert process.returncode == 0, printed
    rows = table_rows(output.read_text(encoding="utf-8"))
    assert {row[0] for row in rows} == EXPECTED_ROWS
    for number, label, ours, alternative, *_ in rows:
        assert NUMBER.search(ours), f"row {number} ({label}) has no number: {ours}"
        assert alternative == "—" or NUMBER.search(alternative), (
            f"row {number} ({label}): no number for the alternative: {alternative}"
        )
