"""The servers a run starts, each in its own process group, all stopped at the end."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import http.client
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import TracebackType

import nginx_conf

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))

#: prctl(2) option: the signal a child gets when its parent dies.
PR_SET_PDEATHSIG = 1

#: How long a server may take to answer its first request.
START_TIMEOUT = 30.0


class ServerError(RuntimeError):
    """A server did not start, with the end of its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_binary(name: str) -> str | None:
    """``name`` on ``PATH``, or in the sbin folders a non-root ``PATH`` may lack."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: str
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        """The pids of the processes this server's master forked."""
        return children_of(self.process.pid)

    def log_tail(self, lines: int = 20) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as log:
                return "".join(log.readlines()[-lines:])
        except OSError:
            return ""


class Services:
    """Starts servers on free loopback ports; stops every one of them on exit.

    Starting returns at once, so that several servers boot side by side;
    :meth:`ready` waits until each answers. Each server runs in a new session,
    so stopping its process group takes its workers with it, even when the
    master died first.
    """

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.servers: list[Server] = []
        self.starting: list[Server] = []

    def __enter__(self) -> Services:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop_all()

    def gunicorn(
        self,
        name: str,
        app_spec: str,
        *,
        worker_class: str = "sync",
        threads: int = 1,
        workers: int = 2,
        env: dict[str, str] | None = None,
    ) -> Server:
        """Serve ``module:factory()`` of this folder with gunicorn."""
        port = free_port()
        command = [
            sys.executable, "-m", "gunicorn",
            "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers),
            "--worker-class", worker_class,
            "--threads", str(threads),
            "--pythonpath", BENCH_DIR,
            "--graceful-timeout", "2",
            "--timeout", "300",
            "--log-level", "warning",
            *_gunicorn_options(),
            app_spec,
        ]  # fmt: skip
        return self._start(name, port, command, env=env)

    def redis(self) -> Server:
        binary = _required("redis-server")
        port = free_port()
        folder = self._folder("redis")
        command = [
            binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", folder,
        ]  # fmt: skip
        server = self._start("redis", port, command)
        server.extra["url"] = f"redis://127.0.0.1:{port}/0"
        return server

    def nginx(self, root: str) -> Server:
        """A foreground nginx serving ``root``; it drops root privileges first."""
        binary = _required("nginx")
        port = free_port()
        folder = self._folder("nginx")
        config = nginx_conf.write_config(folder, root, port)
        user = _unprivileged_user()
        if user is not None:
            os.chown(folder, user.pw_uid, user.pw_gid)

        command = [binary, "-p", folder, "-c", config, "-e", f"{folder}/error.log"]
        return self._start("nginx", port, command, user=user)

    def ready(self) -> None:
        """Wait until every server started since the last call answers."""
        while self.starting:
            _wait_until_listening(self.starting.pop(0))

    def stop(self, server: Server) -> None:
        if server in self.servers:
            self.servers.remove(server)

        if server in self.starting:
            self.starting.remove(server)

        _stop_group(server.process)

    def stop_all(self) -> None:
        while self.servers:
            self.stop(self.servers[-1])

    def _folder(self, name: str) -> str:
        folder = os.path.join(self.workdir, f"{name}-{len(self.servers)}")
        os.makedirs(folder, mode=0o755, exist_ok=True)
        return folder

    def _start(
        self,
        name: str,
        port: int,
        command: list[str],
        *,
        env: dict[str, str] | None = None,
        user: pwd.struct_passwd | None = None,
    ) -> Server:
        log_path = os.path.join(self.workdir, f"{name}-{port}.log")
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
                preexec_fn=_die_with_parent,
                user=user.pw_uid if user else None,
                group=user.pw_gid if user else None,
                extra_groups=[] if user else None,
            )

        server = Server(name, port, process, log_path)
        self.servers.append(server)
        self.starting.append(server)
        return server


def children_of(pid: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue

        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                # The command name may hold spaces; fields after it are fixed.
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue

        if int(fields[1]) == pid:
            children.append(int(entry))

    return sorted(children)


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far (proc(5))."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue

        # utime and stime: fields 14 and 15, the 12th and 13th after the name.
        ticks += int(fields[11]) + int(fields[12])

    return ticks / os.sysconf("SC_CLK_TCK")


def read_status_kib(pid: int, field_name: str) -> int:
    """A ``kB`` field of ``/proc/<pid>/status`` such as ``VmRSS`` or ``VmHWM``."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field_name}:"):
                return int(line.split()[1])

    raise LookupError(f"no {field_name} for pid {pid}")


@functools.cache
def _gunicorn_options() -> tuple[str, ...]:
    """Options this gunicorn knows that keep servers from sharing anything.

    Recent gunicorn versions open a control socket under ``~/.gunicorn`` by
    default; several servers at once (and any other gunicorn of the user)
    would contend for the one path, so it is turned off where it exists.
    """
    finished = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return ("--no-control-socket",) if "--no-control-socket" in finished.stdout else ()


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the run itself is killed, and stop then.

    ``PR_SET_PDEATHSIG`` (prctl(2)) covers what ``finally`` cannot: a run
    ended by SIGKILL would otherwise leave its servers behind.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _required(name: str) -> str:
    path = find_binary(name)
    if path is None:
        raise ServerError(f"{name} is not installed")

    return path


def _unprivileged_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None

    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        return None


def _wait_until_listening(server: Server) -> None:
    """Until the server answers any HTTP request (or a Redis PING)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerError(
                f"{server.name} exited with {server.process.returncode}:\n"
                f"{server.log_tail()}"
            )

        if _answers(server):
            return

        time.sleep(0.05)

    raise ServerError(f"{server.name} did not answer in time:\n{server.log_tail()}")


def _answers(server: Server) -> bool:
    if server.name == "redis":
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", "/healthz")
        connection.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        connection.close()


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break

        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue

    # Workers of a master that died first are in the same group; make sure
    # none is left behind.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
