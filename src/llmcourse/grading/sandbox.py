"""The sandbox each submission's kernel runs in: bubblewrap namespaces, limits on the whole tree.

`bubblewrap <https://github.com/containers/bubblewrap>`_ (Debian package ``bubblewrap``, the
tool Flatpak uses) builds the sandbox from Linux namespaces; the grader only chooses its contents:

* **files**: a read-only ``/usr`` and a few ``/etc`` files, the Python installation, the virtual
  environment and the package's source folder — read-only too, so no submission can change the
  package or another's grade; a size-capped, empty ``/tmp`` with the working folder. No
  gradebook, no ``solutions/``, no other submission, nothing of the grader's.
* **namespaces**: its own user, PID (it cannot see or signal the grader, and nothing it starts
  outlives it), network (no network at all), IPC and hostname; no capabilities; a new session;
  a clean environment (the variables below, nothing inherited).
* **limits** (:mod:`llmcourse.grading.limits`): memory and number of processes of the whole
  process tree through a cgroup; CPU time, open files and file size per process; the driver and
  the reader cap output.

A machine that cannot give this (no ``bwrap``, user namespaces disabled, root without a cgroup)
gets :class:`SandboxUnavailable` with what to do; nothing is ever graded unsandboxed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from llmcourse.grading.limits import Cgroup, Limits

ENVIRONMENT = {
    "HOME": "/tmp/work", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg",
    "MPLCONFIGDIR": "/tmp/work/.matplotlib", "IPYTHONDIR": "/tmp/work/.ipython", "XDG_CACHE_HOME": "/tmp/work/.cache",
    "LLMCOURSE_CACHE": "/tmp/work/.cache/llmcourse", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false", "TQDM_DISABLE": "1",
}
ETC_FILES = ("ld.so.cache", "passwd", "group", "nsswitch.conf", "localtime", "fonts", "mime.types")
INSTALL = "sudo apt-get install bubblewrap   (Debian/Ubuntu; Fedora: sudo dnf install bubblewrap)"


class SandboxUnavailable(RuntimeError):
    """This machine cannot run the sandbox; the message says what is missing and what to do."""


# --------------------------------------------------------------------------- what the sandbox sees

def _holds_tmp(path: str) -> bool:
    return path == "/tmp" or "/tmp".startswith(path.rstrip("/") + "/")


def python_paths(course_root: Path | None) -> list[str]:
    """The folders Python needs (installation, environment, package sources), read-only in the sandbox.

    Raises :class:`SandboxUnavailable` if one of them would expose the course's ``solutions/``.
    """
    cwd = os.path.realpath(os.getcwd())
    wanted = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix)}
    # The grader's own folder (a script's, the working folder) is not needed, and one that holds /tmp
    # ("/tmp" itself, "/") would hide the sandbox's writable /tmp.
    wanted |= {os.path.realpath(p) for p in sys.path if p and os.path.isdir(p) and os.path.realpath(p) != cwd
               and not _holds_tmp(os.path.realpath(p))}
    package = Path(__file__).resolve().parents[2]
    wanted.add(str(package))
    paths = sorted(p for p in wanted if not any(p != q and p.startswith(q + os.sep) for q in wanted))
    if course_root is not None:
        secret = os.path.realpath(course_root / "solutions")
        for p in paths:
            if secret == p or secret.startswith(p + os.sep):
                raise SandboxUnavailable(
                    f"the Python path includes {p}, which contains {secret}: the sandbox would expose the "
                    "solutions. Install the package (`make setup`) and run the grader without that folder "
                    "on PYTHONPATH.")
    return paths


def bwrap_command(driver_args: list[str], paths: list[str], limits: Limits) -> list[str]:
    """The bubblewrap command line. Mounts apply in order: the empty /tmp comes first, so that an
    environment that lives under /tmp (a checkout in a temporary folder) is bound on top of it."""
    command = ["bwrap", "--unshare-user", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
               "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
               "--hostname", "sandbox", "--uid", "65534", "--gid", "65534",
               "--proc", "/proc", "--dev", "/dev", "--size", str(limits.disk_mb * 2**20), "--tmpfs", "/tmp",
               "--dir", "/tmp/work", "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        target = Path("/") / name
        if target.is_symlink():
            command += ["--symlink", os.readlink(target), str(target)]
        elif target.is_dir():
            command += ["--ro-bind", str(target), str(target)]
    for name in ETC_FILES:
        command += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for path in paths:
        command += ["--ro-bind", path, path]
    command += ["--chdir", "/tmp/work", "--clearenv"]
    for key, value in ENVIRONMENT.items():
        command += ["--setenv", key, value]
    return command + ["--", sys.executable, "-I", "-m", "llmcourse.grading.driver", *driver_args]


def check_available(limits: Limits = Limits()) -> str:
    """Say how the sandbox will run here (``"bubblewrap 0.8.0, cgroup v1"``), or raise why not."""
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable(f"the grader runs every notebook in a bubblewrap sandbox, and `bwrap` is not "
                                 f"installed. Install it: {INSTALL}")
    version = subprocess.run(["bwrap", "--version"], capture_output=True, text=True).stdout.strip()
    trial = subprocess.run(["bwrap", "--unshare-user", "--unshare-pid", "--unshare-net", "--ro-bind", "/", "/",
                            "--proc", "/proc", "--dev", "/dev", "--", "true"], capture_output=True, text=True)
    if trial.returncode != 0:
        raise SandboxUnavailable(
            f"bubblewrap is installed but cannot create namespaces here: {trial.stderr.strip()}. Allow "
            "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04 also "
            "kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for bwrap), or run in a "
            "VM or container that permits them.")
    group = Cgroup.create(limits)
    if group is not None:
        group.remove()
        return f"{version}, memory and processes limited by cgroup v{group.version}"
    if os.geteuid() == 0:
        raise SandboxUnavailable(
            "running as root without a writable cgroup (v2 with the memory and pids controllers, or v1 memory "
            "and pids): the grader could not cap a notebook's memory and processes as a whole. Run the grader "
            "as an ordinary user, or give it a cgroup (e.g. a VM, or a container started with a writable "
            "/sys/fs/cgroup).")
    return f"{version}, memory and processes limited per process (no writable cgroup)"


class Sandbox:
    """One running sandbox: ``send``/``receive`` file descriptors to its driver."""

    def __init__(self, limits: Limits, course_root: Path | None = None):
        self.limits = limits
        self.paths = python_paths(course_root)
        self.cgroup: Cgroup | None = None
        self.process: subprocess.Popen | None = None
        self.output = bytearray()
        self.forking = False          # the driver forks a child per notebook (session.Zygote)

    def start(self) -> None:
        to_driver, from_driver = os.pipe(), os.pipe()
        self.cgroup = Cgroup.create(self.limits)
        if self.cgroup is None and os.geteuid() == 0:
            raise SandboxUnavailable("no writable cgroup: see llmcourse.grading.sandbox.check_available")
        command = bwrap_command([str(to_driver[0]), str(from_driver[1])], self.paths, self.limits)
        if self.cgroup is not None:
            joins = " && ".join(f'echo $$ > "${i + 1}"' for i in range(len(self.cgroup.procs)))
            command = ["/bin/sh", "-c", f'{joins} && shift {len(self.cgroup.procs)} && exec "$@"', "sh",
                       *map(str, self.cgroup.procs), *command]
        # bwrap and its init process (pid 1 inside, whose /proc/1/environ the sandbox can read) get no
        # variable of the grader's either.
        self.process = subprocess.Popen(command, pass_fds=(to_driver[0], from_driver[1]), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                                        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"})
        os.close(to_driver[0])
        os.close(from_driver[1])
        self.send_fd, self.receive_fd = to_driver[1], from_driver[0]
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            chunk = self.process.stdout.read1(65536)
            if not chunk:
                return
            room = self.limits.output_bytes - len(self.output)
            if room > 0:
                self.output += chunk[:room]

    def driver_pid(self) -> int | None:
        import psutil

        drivers = []
        try:
            for child in psutil.Process(self.process.pid).children(recursive=True):
                line = child.cmdline()
                if line[:1] == [sys.executable] and "llmcourse.grading.driver" in line:
                    if not self.forking:
                        return child.pid
                    drivers.append(child)
        except psutil.Error:
            pass
        pids = {d.pid for d in drivers}
        forked = [d.pid for d in drivers if d.ppid() in pids]  # a zygote's child (session.Zygote)
        return (forked or [d.pid for d in drivers] or [None])[0]

    def interrupt(self) -> bool:
        """Send SIGINT to the driver (a ``KeyboardInterrupt`` in the learner's code)."""
        pid = self.driver_pid()
        if pid is None:
            return False
        try:
            os.kill(pid, signal.SIGINT)
            return True
        except ProcessLookupError:
            return False

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Kill everything in the sandbox and free its cgroup and pipes."""
        if self.cgroup is not None:
            self.cgroup.kill_all()
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.process.wait()
        if self.cgroup is not None:
            self.cgroup.remove()
        for fd in (getattr(self, "send_fd", None), getattr(self, "receive_fd", None)):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.send_fd = self.receive_fd = None
