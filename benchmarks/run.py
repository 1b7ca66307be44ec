"""The benchmark command: measures the gateway against what an operator would use.

    python benchmarks/run.py [--quick] [--output PATH] [--only 1,3]

Every server runs on loopback under gunicorn (nginx for the static ceiling),
wrk is the load, and the table of ratios goes to ``benchmarks/RESULTS.md``
and to the terminal. The exit status is 1 when a row produced no number, 2
when something the run needs is missing; a missed target is a result, not a
failure.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from types import FrameType

import machine
import prereqs
import results_file
from harness import FULL, QUICK, Bench, Plan
from http_check import CheckError
from load import LoadError
from processes import BENCH_DIR, ServerError, Services
from report import Row, plain_table
from results_file import Load
from rows_api import guarded_route_rows
from rows_inference import inference_rows
from rows_memory import memory_rows
from rows_scale import scale_rows
from rows_static import static_rows

#: What a section may fail with and still let the other sections run.
SECTION_FAILURES = (
    ServerError,
    LoadError,
    CheckError,
    OSError,
    subprocess.SubprocessError,
)

Section = Callable[[Bench], list[Row]]

#: Other work above this share of the CPUs before a row gets a warning.
BUSY_WARNING = 0.15

SECTIONS: list[tuple[str, str, Section]] = [
    ("1", "guarded API route", guarded_route_rows),
    ("2+4", "inference cache and proxy", inference_rows),
    ("3", "static files", static_rows),
    ("5", "memory while streaming", memory_rows),
    ("6", "size of the public folder", scale_rows),
]


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    plan = QUICK if arguments.quick else FULL
    output = arguments.output or os.path.join(BENCH_DIR, "RESULTS.md")
    chosen = [
        section
        for section in SECTIONS
        if not arguments.only or set(section[0].split("+")) & set(arguments.only)
    ]

    try:
        prereqs.ensure()
    except prereqs.MissingPrerequisite as missing:
        print(missing, file=sys.stderr)
        return 2

    # A plain ``kill`` must still stop the servers: make it an exit.
    signal.signal(signal.SIGTERM, _exit_on_signal)

    started = time.monotonic()
    loads: list[Load] = []
    incidents: list[str] = []
    rows = _run_sections(chosen, plan, loads, incidents)
    elapsed = time.monotonic() - started

    arguments_given = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "benchmarks/run.py", *arguments_given])
    text = results_file.render(rows, plan, command, elapsed, loads, incidents)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w", encoding="utf-8") as results:
        results.write(text)

    print()
    print(plain_table(rows))
    print(f"\n{len(rows)} rows in {elapsed:.0f} s, written to {output}")
    return 1 if any(row.error for row in rows) else 0


def _run_sections(
    sections: list[tuple[str, str, Section]],
    plan: Plan,
    loads: list[Load],
    incidents: list[str],
) -> list[Row]:
    workdir = tempfile.mkdtemp(prefix="heady-bench-")
    # nginx reads the generated files as an unprivileged user.
    os.chmod(workdir, 0o755)
    rows: list[Row] = []
    try:
        with Services(workdir) as services:
            bench = Bench(plan, services, workdir)
            for number, title, section in sections:
                rows += _run_section(bench, number, title, section, loads)

            incidents += bench.incidents
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    return rows


def _run_section(
    bench: Bench, number: str, title: str, section: Section, loads: list[Load]
) -> list[Row]:
    before = _quiet_machine(bench.plan.settle_seconds)
    print(
        f"row {number}: {title} (other work: {before:.0%} of the CPUs) ...", flush=True
    )
    if before > BUSY_WARNING:
        print(
            f"warning: the machine is busy with other work ({before:.0%});"
            " the ratios of this row will be less reliable",
            file=sys.stderr,
            flush=True,
        )

    started = time.monotonic()
    try:
        rows = section(bench)
    except SECTION_FAILURES as error:
        first_line = str(error).strip().splitlines()[0] if str(error) else ""
        print(f"row {number} failed: {error}", file=sys.stderr, flush=True)
        rows = [Row(number, title, error=f"{type(error).__name__}: {first_line}")]
    finally:
        bench.services.stop_all()

    after = machine.cpu_busy()
    loads.append(Load(number, before, after))
    print(f"row {number}: {time.monotonic() - started:.1f} s", flush=True)
    return rows


def _quiet_machine(patience: float) -> float:
    """Wait up to ``patience`` seconds for other work to settle; how busy it is.

    On a shared machine a test suite started by someone else can take most
    of the CPUs for a minute; a row measured then says more about that than
    about the code. Waiting costs nothing when the machine is quiet.
    """
    deadline = time.monotonic() + patience
    busy = machine.cpu_busy()
    while busy > BUSY_WARNING and time.monotonic() < deadline:
        print(f"waiting for other work to settle ({busy:.0%} of the CPUs)", flush=True)
        busy = machine.cpu_busy(2.0)

    return busy


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="Measure flask_heady_edge against the usual alternatives.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="about a second per measurement, small files: checks, not numbers",
    )
    parser.add_argument(
        "--output",
        metavar="PATH",
        help="where to write the results (default: benchmarks/RESULTS.md)",
    )
    parser.add_argument(
        "--only",
        metavar="ROWS",
        type=lambda value: [part.strip() for part in value.split(",") if part.strip()],
        help="run only these rows, e.g. 1,3",
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
