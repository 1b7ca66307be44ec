"""Row 5: a worker's memory while a slow client reads a large answer."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import threading
import time
from dataclasses import dataclass

from harness import MIB, Bench
from http_check import CheckError, fetch
from load import Request
from payloads import API_KEY, API_KEY_HEADER
from processes import Server, read_status_kib
from public_dirs import size_label, write_file
from report import Row, below, single

#: The target: a worker may not grow by more than this while it streams.
GROWTH_LIMIT_MIB = 64

#: The slow client's receive buffer: small, so the server cannot push the
#: answer into the client's kernel buffers instead of holding it itself.
RECEIVE_BUFFER = 64 * 1024

SAMPLE_INTERVAL = 0.01


def memory_rows(bench: Bench) -> list[Row]:
    services = bench.services
    plan = bench.plan
    size = plan.stream_bytes
    public = os.path.join(bench.workdir, "public-large")
    write_file(os.path.join(public, "large.bin"), size, seed=5)
    os.chmod(public, 0o755)

    upstream = services.gunicorn(
        "upstream", "upstream:app", worker_class="gthread", threads=8
    )
    proxy = services.gunicorn(
        "gateway-proxy",
        "gateway_app:create_app()",
        worker_class="gthread",
        threads=plan.threads,
        env={"HEADY_HF_BASE_URL": upstream.url},
    )
    static = services.gunicorn(
        "gateway-static", "gateway_app:create_app()", env={"HEADY_PUBLIC_DIR": public}
    )
    services.ready()

    keyed = {API_KEY_HEADER: API_KEY, "Content-Type": "application/json"}
    streamed = Request(f"/api/hf/stream/{size}", "POST", keyed, "{}")
    warm_up = Request("/api/hf/stream/65536", "POST", keyed, "{}")
    large_file = Request("/large.bin")

    proxy_growth = _growth_while_reading(
        proxy, streamed, warm_up, size, plan.slow_client_bytes_per_second
    )
    static_growth = _growth_while_reading(
        static,
        large_file,
        Request("/large.bin", "HEAD"),
        size,
        plan.slow_client_bytes_per_second,
    )
    label = size_label(size)
    return [
        Row(
            "5",
            f"worker memory growth, {label} upstream answer to a slow client",
            single(proxy_growth, "MiB", higher_is_better=False),
            target=below(GROWTH_LIMIT_MIB, "MiB"),
        ),
        Row(
            "5",
            f"worker memory growth, {label} static file to a slow client",
            single(static_growth, "MiB", higher_is_better=False),
            target=below(GROWTH_LIMIT_MIB, "MiB"),
        ),
    ]


@dataclass
class _Peaks:
    """The highest resident size seen per worker, in KiB, sampled in a thread."""

    pids: list[int]

    def __post_init__(self) -> None:
        self.highest = {pid: read_status_kib(pid, "VmRSS") for pid in self.pids}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.stop.wait(SAMPLE_INTERVAL):
            for pid in self.pids:
                with contextlib.suppress(OSError, LookupError):
                    rss = read_status_kib(pid, "VmRSS")
                    self.highest[pid] = max(self.highest[pid], rss)


def _growth_while_reading(
    server: Server, request: Request, warm_up: Request, size: int, rate: int
) -> float:
    """MiB the busiest worker grew by, above its size just before the request."""
    # Each worker answers a few times first, so what it loads on its first
    # request (imports, a connection pool) is not counted as growth.
    for _ in range(6):
        fetch(server.url, warm_up)

    pids = server.worker_pids()
    baseline = {pid: read_status_kib(pid, "VmRSS") for pid in pids}
    high_water_reset = all(_reset_high_water(pid) for pid in pids)
    peaks = _Peaks(pids)
    peaks.thread.start()
    try:
        received = _read_slowly(server.port, request, rate)
    finally:
        peaks.stop.set()
        peaks.thread.join()

    if received != size:
        raise CheckError(f"{server.name}: {request.path} sent {received} of {size}")

    growth = 0
    for pid in pids:
        peak = peaks.highest[pid]
        if high_water_reset:
            peak = max(peak, read_status_kib(pid, "VmHWM"))

        growth = max(growth, peak - baseline[pid])

    return growth * 1024 / MIB


def _reset_high_water(pid: int) -> bool:
    """Reset VmHWM to the current size (Linux 4.0 and later); whether it worked."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False

    return True


class _SlowConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Set before connecting, so the TCP window is negotiated small.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        sock.settimeout(self.timeout)
        sock.connect((self.host, self.port))
        self.sock = sock


def _read_slowly(port: int, request: Request, rate: int) -> int:
    """Read the whole answer at no more than ``rate`` bytes a second."""
    connection = _SlowConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request(
            request.method,
            request.path,
            body=request.body.encode() if request.body is not None else None,
            headers=request.headers,
        )
        response = connection.getresponse()
        if response.status != 200:
            raise CheckError(f"{request.path} answered {response.status}")

        started = time.monotonic()
        received = 0
        while chunk := response.read(RECEIVE_BUFFER):
            received += len(chunk)
            ahead = received / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)

        return received
    finally:
        connection.close()
