"""Row 6: startup, memory and throughput as the public folder grows."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from harness import MIB, Bench, Side, rate
from http_check import expect
from load import Request
from processes import BENCH_DIR
from public_dirs import make_tree
from report import Measure, Row, at_least

#: Throughput at the largest folder, as a share of that at the smallest.
FLAT_THROUGHPUT = 0.95


def scale_rows(bench: Bench) -> list[Row]:
    counts = bench.plan.scale_counts
    trees = {}
    for count in counts:
        root = os.path.join(bench.workdir, f"public-{count}")
        trees[count] = (root, make_tree(root, count))

    probes = {
        (server, count): [
            _probe(server, *trees[count]) for _ in range(bench.plan.probe_rounds)
        ]
        for count in counts
        for server in ("ours", "whitenoise")
    }

    servers = {
        count: bench.services.gunicorn(
            f"gateway-{count}-files",
            "gateway_app:create_app()",
            env={"HEADY_PUBLIC_DIR": trees[count][0]},
        )
        for count in counts
    }
    bench.services.ready()
    for count, server in servers.items():
        expect(server.url, Request(trees[count][1]), 200)

    results = bench.compare(
        [Side(str(count), servers[count], Request(trees[count][1])) for count in counts]
    )

    rows = []
    for count in counts:
        ours, theirs = probes["ours", count], probes["whitenoise", count]
        rows.append(
            Row(
                "6",
                f"startup to first answer, {count:,} files (lower is better)",
                _lowest(ours, "seconds", 1000, "ms"),
                _lowest(theirs, "seconds", 1000, "ms", "WhiteNoise"),
            )
        )
        rows.append(
            Row(
                "6",
                f"memory held by the app, {count:,} files (lower is better)",
                _lowest(ours, "held_bytes", 1 / MIB, "MiB"),
                _lowest(theirs, "held_bytes", 1 / MIB, "MiB", "WhiteNoise"),
            )
        )

    smallest = counts[0]
    for count in counts[1:]:
        rows.append(
            Row(
                "6",
                f"GET a 1 KiB file from {count:,} files",
                rate(results[str(count)]),
                rate(results[str(smallest)], f"from {smallest:,} files"),
                at_least(FLAT_THROUGHPUT) if count == counts[-1] else None,
            )
        )

    return rows


def _lowest(
    probes: list[dict[str, float]], key: str, scale: float, unit: str, name: str = ""
) -> Measure:
    return Measure(tuple(probe[key] * scale for probe in probes), unit, name, False)


def _probe(server: str, public: str, path: str) -> dict[str, float]:
    finished = subprocess.run(
        [
            sys.executable,
            os.path.join(BENCH_DIR, "scale_probe.py"),
            server,
            public,
            path,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result: dict[str, float] = json.loads(finished.stdout.strip().splitlines()[-1])
    return result
