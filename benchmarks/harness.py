"""How long and how often each side is loaded, and the alternation between sides."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

from http_check import fetch
from load import LoadError, LoadResult, Request, run_wrk
from processes import Server, Services, cpu_seconds
from report import Measure

MIB = 1024 * 1024

#: Requests sent to each side before it is measured, where no warm-up time is.
WARM_UP_REQUESTS = 10


@dataclass(frozen=True)
class Plan:
    """The sizes and durations of one run: the full one or ``--quick``."""

    quick: bool
    #: Seconds of each wrk measurement, and of the unmeasured warm-up before.
    seconds: int
    warmup_seconds: int
    #: Each side of a comparison is measured this often, the sides taking
    #: turns, and the best round is kept: a burst of other work on the
    #: machine then costs a side one round, not its number.
    rounds: int
    #: Fresh processes built per folder size in row 6, the fastest kept.
    probe_rounds: int
    connections: int
    static_sizes: tuple[int, ...]
    stream_bytes: int
    #: How long a row waits for other work on the machine to settle.
    settle_seconds: float
    #: How fast the slow client of row 5 reads.
    slow_client_bytes_per_second: int
    scale_counts: tuple[int, ...]

    @property
    def threads(self) -> int:
        """gunicorn threads per gthread worker: one per connection is enough."""
        return self.connections


FULL = Plan(
    quick=False,
    seconds=1,
    warmup_seconds=1,
    rounds=7,
    probe_rounds=3,
    connections=16,
    static_sizes=(1024, 30 * 1024, 5 * MIB),
    stream_bytes=200 * MIB,
    settle_seconds=300,
    slow_client_bytes_per_second=40 * MIB,
    scale_counts=(10, 1_000, 10_000),
)

QUICK = Plan(
    quick=True,
    seconds=1,
    warmup_seconds=0,
    rounds=1,
    probe_rounds=1,
    connections=8,
    static_sizes=(1024, 256 * 1024),
    stream_bytes=2 * MIB,
    settle_seconds=0,
    slow_client_bytes_per_second=20 * MIB,
    scale_counts=(10, 30, 100),
)


@dataclass(frozen=True)
class Side:
    """One thing to load: a server and the request it gets."""

    name: str
    server: Server
    request: Request


class Bench:
    """What every section of a run needs: the plan, the servers, a scratch folder."""

    def __init__(self, plan: Plan, services: Services, workdir: str) -> None:
        self.plan = plan
        self.services = services
        self.workdir = workdir
        #: Measurements that failed once and were taken again, for the results.
        self.incidents: list[str] = []

    def load(self, side: Side, seconds: int, connections: int) -> LoadResult:
        """One wrk run; a run with errors is taken once more, and noted.

        A single failed answer voids a run, since a fast stream of errors
        could pass for a fast server; but one stray error in a long run
        should not void the whole table. The server's log goes with the note.
        """
        try:
            return self._wrk(side, seconds, connections)
        except LoadError as error:
            log = " | ".join(side.server.log_tail(5).strip().splitlines())
            self.incidents.append(
                f"{side.server.name}: {error}; measured again."
                + (f" Its log ends: {log}" if log else "")
            )
            print(f"retrying after: {error}", file=sys.stderr, flush=True)

        return self._wrk(side, seconds, connections)

    def _wrk(self, side: Side, seconds: int, connections: int) -> LoadResult:
        # The CPU the workers spend per request is read alongside: unlike the
        # rate, it hardly moves when other work competes for the machine.
        workers = side.server.worker_pids()
        before = cpu_seconds(workers)
        result = run_wrk(
            side.server.url,
            side.request,
            seconds=seconds,
            connections=connections,
            workdir=self.workdir,
        )
        spent = cpu_seconds(workers) - before
        return replace(result, server_cpu_us=spent / result.requests * 1e6)

    def compare(
        self, sides: list[Side], connections: int | None = None
    ) -> dict[str, list[LoadResult]]:
        """Load each side in turn, ``plan.rounds`` times; every result, by name."""
        connections = connections or self.plan.connections
        for side in sides:
            if self.plan.warmup_seconds:
                self.load(side, self.plan.warmup_seconds, connections)
            else:
                # Without a timed warm-up, a few requests still make each
                # worker load what it loads on its first request.
                for _ in range(WARM_UP_REQUESTS):
                    fetch(side.server.url, side.request)

        results: dict[str, list[LoadResult]] = {side.name: [] for side in sides}
        for _ in range(self.plan.rounds):
            for side in sides:
                results[side.name].append(
                    self.load(side, self.plan.seconds, connections)
                )

        return results


def rate(results: list[LoadResult], name: str = "") -> Measure:
    return Measure(
        tuple(result.per_second for result in results),
        "req/s",
        name,
        cpu_us=tuple(
            result.server_cpu_us
            for result in results
            if result.server_cpu_us is not None
        ),
    )


def latency(results: list[LoadResult], name: str = "") -> Measure:
    return Measure(
        tuple(result.latency_mean_ms for result in results), "ms", name, False
    )
