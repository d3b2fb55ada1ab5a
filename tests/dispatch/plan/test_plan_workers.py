"""A killed planning job leaves no solver process behind (defect 11 of issue 11: each
orphan kept about 180 MB and its CPU)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc")


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_solver_processes_die_with_a_killed_job(tmp_path: Path) -> None:
    job = subprocess.Popen(
        [sys.executable, "-m", "dispatch.cli", "plan", "--workers", "2", "--time-limit", "120",
         "--out", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        solvers: list[int] = []
        while time.monotonic() < deadline and len(solvers) < 2:
            time.sleep(0.5)
            solvers = [c for c in _children(job.pid) if _alive(c)]
        assert len(solvers) >= 2, "the plan's solver pool did not start"
        os.kill(job.pid, signal.SIGKILL)
        job.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(c) for c in solvers):
            time.sleep(0.2)
        left = [c for c in solvers if _alive(c)]
    finally:
        for c in _children(job.pid):
            os.kill(c, signal.SIGKILL)
        if job.poll() is None:
            job.kill()
    for c in left:
        os.kill(c, signal.SIGKILL)
    assert left == []
