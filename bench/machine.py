"""The machine under test: its description for the report, open-files limit and loopback source addresses."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent


def raise_open_files(wanted: int | None = None) -> int:
    """Raise the soft RLIMIT_NOFILE towards the hard limit (children inherit it); return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if wanted is None else min(hard, max(soft, wanted))
    if hard == resource.RLIM_INFINITY and wanted is None:
        target = 1 << 20
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def source_addresses(count: int, first: int = 2) -> list[str]:
    """127.0.0.<first>.. — all of 127.0.0.0/8 is loopback, so each address brings its own ephemeral ports."""
    if not 1 <= count <= 250:
        raise ValueError("between 1 and 250 source addresses")
    return [f"127.0.0.{first + i}" for i in range(count)]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip() or "unknown"
    return commit + ("+dirty" if dirty.stdout.strip() else "")


def describe() -> dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "open_files_limit": {"soft": soft, "hard": hard},
    }


class CpuQuota:
    """A cgroup that caps its processes at `cores` of CPU (CFS bandwidth: `cores` x period per period), so
    that a server can be driven to saturation by load generators that share its machine. cgroup v2 (a
    `cpu.max`) or v1 (the `cpu` hierarchy); needs root. Used as a context manager around `add`."""

    V2 = Path("/sys/fs/cgroup")
    V1 = Path("/sys/fs/cgroup/cpu")

    def __init__(self, cores: float, period_us: int = 20_000) -> None:
        if not 0 < cores <= (os.cpu_count() or 1):
            raise ValueError(f"a quota of {cores} cores on a machine of {os.cpu_count()}")
        self.cores, self.period_us = cores, period_us
        name = f"sprintboard-bench-{os.getpid()}"
        if "cpu" in self._read(self.V2 / "cgroup.controllers").split():
            self.v2, self.path = True, self.V2 / name
        elif (self.V1 / "cpu.cfs_quota_us").exists():
            self.v2, self.path = False, self.V1 / name
        else:
            raise RuntimeError("no cgroup cpu controller here (neither v2 cpu.max nor v1 cpu.cfs_quota_us)")

    @staticmethod
    def _read(path: Path) -> str:
        try:
            return path.read_text()
        except OSError:
            return ""

    def __enter__(self) -> CpuQuota:
        quota = round(self.cores * self.period_us)
        try:
            if self.v2:
                if "cpu" not in self._read(self.V2 / "cgroup.subtree_control").split():
                    (self.V2 / "cgroup.subtree_control").write_text("+cpu")
                self.path.mkdir(exist_ok=True)
                (self.path / "cpu.max").write_text(f"{quota} {self.period_us}")
            else:
                self.path.mkdir(exist_ok=True)
                (self.path / "cpu.cfs_period_us").write_text(str(self.period_us))
                (self.path / "cpu.cfs_quota_us").write_text(str(quota))
        except OSError as exc:
            raise RuntimeError(f"cannot make the cgroup {self.path} (root is needed): {exc}") from exc
        return self

    def add(self, pid: int) -> None:
        """Move the process (every thread of it) into the cgroup."""
        (self.path / "cgroup.procs").write_text(str(pid))

    def throttled(self) -> dict[str, float]:
        """CFS periods run and periods throttled so far."""
        stat = dict(line.split() for line in self._read(self.path / "cpu.stat").splitlines() if " " in line)
        return {"periods": float(stat.get("nr_periods", 0)), "throttled": float(stat.get("nr_throttled", 0))}

    def __exit__(self, *exc: object) -> None:
        parent = self.V2 if self.v2 else self.V1
        for pid in self._read(self.path / "cgroup.procs").split():
            with contextlib.suppress(OSError):
                (parent / "cgroup.procs").write_text(pid)
        with contextlib.suppress(OSError):
            self.path.rmdir()
