"""The load driver: runs wrk against one URL and reads its numbers back."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from dataclasses import dataclass, field

#: wrk prints this line from the script's ``done`` hook, with exact counts.
RESULT_MARK = "HEADY_WRK "

#: Errors past this share of all requests make a measurement worthless.
MAX_SOCKET_ERROR_SHARE = 0.01

DONE_HOOK = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,'
    .. '"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,'
    .. '"latency_mean_us":%.3f,"latency_p50_us":%.0f,"latency_p99_us":%.0f}\\n',
    "{mark}", summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(99)))
end
"""

UNIQUE_BODY_HOOK = """
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil,
    string.format('{{"inputs":"{nonce} %d"}}', counter))
end
"""


class LoadError(RuntimeError):
    """wrk failed, or the server answered with errors."""


@dataclass(frozen=True)
class Request:
    """What every request of one measurement looks like."""

    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    #: Give every request a different JSON body, so each one misses a cache.
    unique_bodies: bool = False


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    bytes_read: int
    status_errors: int
    socket_errors: int
    latency_mean_ms: float
    latency_p50_ms: float
    latency_p99_ms: float
    #: CPU time the server's workers spent per request, when it was read.
    server_cpu_us: float | None = None

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(
    base_url: str,
    request: Request,
    *,
    seconds: int,
    connections: int,
    workdir: str,
    threads: int = 1,
) -> LoadResult:
    """Load ``base_url + request.path`` for ``seconds`` and return what wrk saw."""
    script = _write_script(request, workdir)
    command = [
        "wrk",
        "--threads", str(min(threads, connections)),
        "--connections", str(connections),
        "--duration", f"{seconds}s",
        "--timeout", "10s",
        "--script", script,
    ]  # fmt: skip
    for name, value in request.headers.items():
        command += ["--header", f"{name}: {value}"]

    command.append(base_url + request.path)
    try:
        finished = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
    finally:
        os.unlink(script)

    if finished.returncode != 0:
        raise LoadError(f"wrk exited with {finished.returncode}: {finished.stderr}")

    result = parse_output(finished.stdout)
    _check_errors(result, request)
    return result


def parse_output(output: str) -> LoadResult:
    """Read the line our ``done`` hook printed among wrk's own report."""
    for line in output.splitlines():
        if line.startswith(RESULT_MARK):
            numbers = json.loads(line.removeprefix(RESULT_MARK))
            break
    else:
        raise LoadError(f"no result line in wrk's output:\n{output}")

    return LoadResult(
        requests=int(numbers["requests"]),
        seconds=numbers["duration_us"] / 1e6,
        bytes_read=int(numbers["bytes"]),
        status_errors=int(numbers["status"]),
        socket_errors=int(
            numbers["connect"] + numbers["read"] + numbers["write"] + numbers["timeout"]
        ),
        latency_mean_ms=numbers["latency_mean_us"] / 1000,
        latency_p50_ms=numbers["latency_p50_us"] / 1000,
        latency_p99_ms=numbers["latency_p99_us"] / 1000,
    )


def _check_errors(result: LoadResult, request: Request) -> None:
    # A fast stream of 401s or 404s would pass for a fast server: any answer
    # outside 2xx and 3xx voids the measurement.
    if result.status_errors:
        raise LoadError(
            f"{result.status_errors} of {result.requests} answers to"
            f" {request.method} {request.path} were not 2xx or 3xx"
        )

    if result.requests == 0:
        raise LoadError(f"no request to {request.path} completed")

    if result.socket_errors > MAX_SOCKET_ERROR_SHARE * result.requests:
        raise LoadError(
            f"{result.socket_errors} socket errors in {result.requests} requests"
            f" to {request.path}"
        )


def _write_script(request: Request, workdir: str) -> str:
    lines = [f'wrk.method = "{request.method}"']
    if request.body is not None:
        lines.append(f"wrk.body = {_lua_long_string(request.body)}")

    if request.unique_bodies:
        lines.append(UNIQUE_BODY_HOOK.format(nonce=uuid.uuid4().hex))

    lines.append(DONE_HOOK.replace("{mark}", RESULT_MARK))
    path = os.path.join(workdir, f"wrk-{uuid.uuid4().hex}.lua")
    with open(path, "w", encoding="utf-8") as script:
        script.write("\n".join(lines))

    return path


def _lua_long_string(text: str) -> str:
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1

    return f"[{'=' * level}[{text}]{'=' * level}]"
