"""Writes RESULTS.md: the table, the misses and by how much, the machine, the method."""

from __future__ import annotations

import datetime
from typing import NamedTuple

import machine
from harness import Plan
from report import Row, markdown_table, missed

METHOD = """\
- Every app runs under gunicorn with 2 workers, bound to 127.0.0.1 on a free
  port: sync workers where nothing waits on an upstream, `gthread` workers
  with one thread per connection where something does. nginx runs in the
  foreground from a generated config, 2 worker processes, as an unprivileged
  user.
- wrk is the load: 1 thread, {connections} connections, {seconds} s per
  measurement{warmup}. {rounds_text}
- The last column is the CPU time the server's worker processes spent per
  request (user and system time from `/proc`, the least of the rounds),
  ours / the alternative's. It leaves out the load tool and the kernel's
  work on behalf of the client, and other work on the machine moves it far
  less than it moves the rates: where a ratio and this column disagree,
  trust the column. For the upstream rows it is the gateway's CPU alone
  (and the upstream's, for the direct call).
- {settle}; the machine section says how busy it was before and after
  each row.
- Every measured request is checked first (status, the headers that prove
  the work was done, such as `X-Heady-Cache: HIT` or a `304`), and a run
  where any answer is not 2xx or 3xx is thrown away.
- The gateway app is a Flask app with `HeadyEdge(app)` and default settings
  except for the API key, a limit high enough never to refuse, and the
  upstream URL. The rate limit storage is `memory://` unless a row says
  Redis (a private `redis-server` on a free loopback port). The inference
  cache is the default embedded store, one per worker.
- The upstream is `benchmarks/upstream.py`, a plain WSGI app under gunicorn
  (gthread) that answers after the delay the request asks for.
- Row 2's hit-vs-miss ratio is measured with 1 connection, so it compares
  the time of one request; each miss posts a different body, so it is a real
  miss: lookup, upstream call, store.
- Row 5 reads the worker's resident memory (VmRSS sampled every 10 ms, and
  VmHWM after its reset) while a client reads {stream} at {rate}/s, against
  the worker's resident memory just before the request.
- Row 6 builds the app in a fresh process for each folder and times it up to
  its first answer (the best of {probe_rounds}); the memory is what `tracemalloc`
  sees held by the app after that answer (the Flask app itself included, for
  both sides). Its throughput rows load the three folders' servers in turn.
"""


class Load(NamedTuple):
    """How busy the machine was with other work around one section."""

    rows: str
    before: float
    after: float


def render(
    rows: list[Row],
    plan: Plan,
    command: str,
    elapsed: float,
    loads: list[Load],
    incidents: list[str],
) -> str:
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    mode = " (quick mode: numbers only prove the rows still run)" if plan.quick else ""
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `{command}` on {today}, in {elapsed:.0f} s{mode}.",
        "",
        "Absolute rates depend on the machine; the ratios, measured in the same",
        'run on the same machine, are the numbers to track and quote. "ours" is',
        "flask_heady_edge; the ratio is ours divided by the alternative.",
        "",
        markdown_table(rows),
        "",
    ]
    lines += _misses(rows)
    if incidents:
        lines += ["## Measurements taken twice", ""]
        lines += [f"- {incident}" for incident in incidents]
        lines.append("")

    lines += ["## Machine", ""]
    lines += [f"- {what}: {value}" for what, value in machine.describe()]
    if loads:
        busy = ", ".join(
            f"row {load.rows} {load.before:.0%} before / {load.after:.0%} after"
            for load in loads
        )
        lines.append(f"- other work on the machine (share of all CPUs): {busy}")
    lines += ["", "## How it is measured", ""]
    lines.append(
        METHOD.format(
            connections=plan.connections,
            seconds=plan.seconds,
            warmup=(
                f", after {plan.warmup_seconds} s of warm-up"
                if plan.warmup_seconds
                else ""
            ),
            rounds_text=_rounds_text(plan.rounds),
            probe_rounds=plan.probe_rounds,
            settle=(
                f"Before each row the run waits, up to {plan.settle_seconds:.0f} s,"
                " until other work\n  uses less than 15% of the CPUs"
                if plan.settle_seconds
                else "This run did not wait for other work on the machine to settle"
            ),
            stream=_size(plan.stream_bytes),
            rate=_size(plan.slow_client_bytes_per_second),
        )
    )
    return "\n".join(lines)


def _misses(rows: list[Row]) -> list[str]:
    misses = missed(rows)
    errors = [row for row in rows if row.error]
    if not misses and not errors:
        return ["Every target is met.", ""]

    lines = ["## Missed targets", ""]
    for row in misses:
        lines.append(f"- Row {row.number}, {_versus(row)}: {row.shortfall()}.")

    for row in errors:
        lines.append(f"- Row {row.number}, {row.label}: no number ({row.error}).")

    return [*lines, ""]


def _versus(row: Row) -> str:
    """The row's label, the alternative it is held against, and the numbers."""
    assert row.target is not None
    if row.target.kind == "below" or row.alternative is None:
        measured = row.ours.text() if row.ours else "no number"
        return f"{row.label} ({measured}, target {row.target.text()})"

    ratio = row.ratio or 0.0
    against = row.alternative.name or "the alternative"
    return (
        f"{row.label} against {against} (ratio {ratio:.2f}, target {row.target.text()})"
    )


def _rounds_text(rounds: int) -> str:
    if rounds == 1:
        return "Each side of a comparison is measured once."

    return (
        f"Each side of a comparison is measured {rounds} times, the sides\n"
        "  taking turns, and the table shows the best round: other work on the\n"
        "  machine can slow a round down but never speed it up. `±` is half the\n"
        "  range of the rounds, as a share of the best."
    )


def _size(count: int) -> str:
    mib = count / 1024 / 1024
    return f"{mib:.0f} MiB" if mib >= 1 else f"{count / 1024:.0f} KiB"
