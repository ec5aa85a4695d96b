"""Limits on a sandboxed notebook: its whole process tree (cgroups) and each process (rlimits).

Memory and the number of processes are capped for the tree through a cgroup: v2 where a subtree
with the memory and pids controllers is writable (the root, or the slice systemd delegates to a
logged-in user), else v1 (memory and pids hierarchies, as root). Without either, an ordinary user
gets per-process limits (address space, processes of the sandbox's user) instead; root without a
cgroup is refused (:func:`llmcourse.grading.sandbox.check_available`). CPU time, open files, file
size and core dumps are per-process limits that the driver sets on itself before any learner
code runs.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Limits:
    """Limits on one submission's whole process tree (memory, processes) and on each process."""

    memory_mb: int = 2048
    processes: int = 32
    cpu_seconds: int = 600
    disk_mb: int = 256
    open_files: int = 256
    output_bytes: int = 64 * 1024


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, fstype, super options) of this process's mounts."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) > 4 and len(tail) >= 3:
            found.append((fields[4].replace("\\040", " "), tail[0], set(tail[2].split(","))))
    return found


def _own_cgroups() -> dict[str, str]:
    """Controller (or "" for v2) → this process's cgroup path in that hierarchy."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for c in (controllers.split(",") if controllers else [""]):
            own[c] = path
    return own


class Cgroup:
    """One submission's cgroup: ``procs`` are the files a process writes its pid to, to join."""

    def __init__(self, dirs: list[Path], version: int):
        self.dirs, self.version = dirs, version
        self.procs = [d / "cgroup.procs" for d in dirs]

    @staticmethod
    def _write(path: Path, value: str) -> None:
        path.write_text(value)

    @classmethod
    def create(cls, limits: Limits, root: Path | None = None) -> "Cgroup | None":
        """A new cgroup with the limits, or ``None`` where no writable cgroup is available."""
        name = f"llmcourse-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        for version, bases in cls.candidates(root):
            made: list[Path] = []
            try:
                for base in bases:
                    made.append(base / name)
                    made[-1].mkdir()
                group = cls(made, version)
                group.apply(limits)
                return group
            except OSError:
                for d in made:
                    try:
                        d.rmdir()
                    except OSError:
                        pass
        return None

    @staticmethod
    def candidates(root: Path | None = None) -> list[tuple[int, list[Path]]]:
        """Where a cgroup with memory and pids limits could be made: v2 first, then v1."""
        found = []
        mounts = _mounts() if root is None else [(str(root), "cgroup2", set())]
        own = _own_cgroups() if root is None else {"": "/"}
        for point, fstype, _ in mounts:
            if fstype != "cgroup2":
                continue
            base = Path(point + own.get("", "/"))
            while base != Path(point).parent:
                controls = base / "cgroup.subtree_control"
                if controls.exists() and {"memory", "pids"} <= set(controls.read_text().split()) \
                        and os.access(base, os.W_OK):
                    found.append((2, [base]))
                    break
                base = base.parent
        v1 = {}
        for point, fstype, options in mounts:
            for controller in ("memory", "pids"):
                if fstype == "cgroup" and controller in options:
                    v1[controller] = Path(point + own.get(controller, "/"))
        if len(v1) == 2 and all(os.access(p, os.W_OK) for p in v1.values()):
            found.append((1, [v1["memory"], v1["pids"]]))
        return found

    def apply(self, limits: Limits) -> None:
        memory = str(limits.memory_mb * 2**20)
        if self.version == 2:
            self._write(self.dirs[0] / "memory.max", memory)
            if (self.dirs[0] / "memory.swap.max").exists():
                self._write(self.dirs[0] / "memory.swap.max", "0")
            self._write(self.dirs[0] / "pids.max", str(limits.processes))
        else:
            self._write(self.dirs[0] / "memory.limit_in_bytes", memory)
            swap = self.dirs[0] / "memory.memsw.limit_in_bytes"
            if swap.exists():
                try:
                    self._write(swap, memory)
                except OSError:
                    pass
            self._write(self.dirs[1] / "pids.max", str(limits.processes))

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of this cgroup for memory."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            for line in (self.dirs[0] / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
            if self.version == 1:
                return int((self.dirs[0] / "memory.failcnt").read_text()) > 0
        except (OSError, ValueError):
            pass
        return False

    def pids(self) -> set[int]:
        found = set()
        for procs in self.procs:
            try:
                found |= {int(p) for p in procs.read_text().split()}
            except OSError:
                pass
        return found

    def kill_all(self) -> None:
        if self.version == 2 and (self.dirs[0] / "cgroup.kill").exists():
            try:
                self._write(self.dirs[0] / "cgroup.kill", "1")
            except OSError:
                pass
        for _ in range(100):
            left = self.pids()
            if not left:
                return
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            threading.Event().wait(0.02)

    def remove(self) -> None:
        self.kill_all()
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    threading.Event().wait(0.02)


def rlimits(limits: Limits, with_cgroup: bool) -> dict[str, tuple[int, int]]:
    """Per-process limits the driver sets on itself (its children inherit them)."""
    out = {"RLIMIT_CPU": (limits.cpu_seconds, limits.cpu_seconds + 5), "RLIMIT_CORE": (0, 0),
           "RLIMIT_NOFILE": (limits.open_files, limits.open_files),
           "RLIMIT_FSIZE": (limits.disk_mb * 2**20, limits.disk_mb * 2**20)}
    if not with_cgroup:
        memory = limits.memory_mb * 2**20
        out["RLIMIT_AS"] = (memory, memory)
        out["RLIMIT_NPROC"] = (limits.processes, limits.processes)
    return out
