"""Grading throughput: notebooks per minute with ``--jobs 1`` and ``--jobs 2``, sandbox on.

    python bench/grading.py [--copies K]

Builds a class from every exercise: for each assignment, K correct and K blank submissions (each a
distinct student), and grades it with ``python -m llmcourse.grading`` once per job count, each time
into a fresh output folder. It prints wall time, notebooks per minute, and the time spent before
the first notebook (preparing the assignments: ``generate_assignment`` once per assignment), then
the speed-up of two jobs over one measured in the same run. Grading is what an instructor waits
for: the figure to compare is notebooks per minute once the assignments are prepared.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from llmcourse.grading.exercise import assignments_of
from llmcourse.grading.notebook import fill_solutions

ROOT = Path(__file__).resolve().parents[1]


def build_class(root: Path, copies: int) -> int:
    count = 0
    for assignment in sorted(assignments_of(ROOT)):
        release = nbformat.read(ROOT / "notebooks" / assignment / f"{assignment}.ipynb", as_version=4)
        source = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
        for k in range(copies):
            for kind, nb in (("good", fill_solutions(release, source)), ("blank", release)):
                path = root / f"{kind}{k}" / assignment / f"{assignment}.ipynb"
                path.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, path)
                count += 1
    return count


def grade(submissions: Path, out: Path, jobs: int) -> tuple[float, float]:
    """Wall seconds of the whole command, and seconds until the first notebook finished."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "llmcourse.grading", str(submissions), "--out", str(out),
                                "--jobs", str(jobs)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    first = None
    while process.poll() is None:
        if first is None and any((out / "results").glob("*/*.json")):
            first = time.perf_counter() - start
        time.sleep(0.1)
    if process.returncode != 0:
        raise SystemExit(f"grading failed: {process.stdout}")
    return time.perf_counter() - start, first or 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=2, help="correct and blank copies per assignment (default 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        n = build_class(tmp / "class", args.copies)
        print(f"{n} notebooks ({args.copies} correct + {args.copies} blank per assignment, "
              f"{len(assignments_of(ROOT))} assignments)")
        rates, rows = {}, {}
        for jobs in (1, 2):
            wall, first = grade(tmp / "class", tmp / f"out{jobs}", jobs)
            with open(tmp / f"out{jobs}" / "grades.csv", newline="") as f:
                rows[jobs] = [(r["student"], r["assignment"], r["score"], r["status"]) for r in csv.DictReader(f)]
            statuses = {row[3] for row in rows[jobs]}
            rates[jobs] = (n - 1) / (wall - first) * 60
            print(f"--jobs {jobs}: {wall:6.1f} s in all, {first:5.1f} s to the first result, "
                  f"{rates[jobs]:5.1f} notebooks/min after that ({n / wall * 60:.1f} overall); statuses {sorted(statuses)}")
        print(f"two jobs over one: {rates[2] / rates[1]:.2f}x; "
              f"same scores and statuses with one and two jobs: {rows[1] == rows[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
