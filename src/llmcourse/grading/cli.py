"""``python -m llmcourse.grading SUBMISSIONS``: grade a folder or zip of notebooks into ``--out``.

    python -m llmcourse.grading SUBMISSIONS [--out DIR] [--jobs N] [--resume] [--timeout S]
                                [--cell-timeout S] [--memory-mb M] [--assignment A ...] [--course DIR]
    make grade SUBMISSIONS=<folder or zip>          # the same, with --out grading/

Writes, as each submission finishes (a killed run loses nothing finished; ``--resume`` grades only
what is missing or changed):

* ``OUT/grades.csv`` — ``student, assignment, score, max_score, status, message``, one row per
  submission, including those that could not be graded (``score`` empty);
* ``OUT/feedback/<student>/<assignment>.html`` — the learner's feedback page;
* ``OUT/gradebook.db`` — nbgrader's gradebook, and at the end ``OUT/nbgrader_grades.csv``.

======================  =====================================================================
status                  meaning
======================  =====================================================================
graded                  graded; ``message`` lists failed tests and forbidden calls (if any)
graded_with_repairs     graded; the notebook's test or read-only cells had been changed
tampered                the notebook interfered with grading (``message`` says how): score 0
invalid_notebook        not a notebook (bad JSON, wrong structure, too big, too deep)
failed                  could not finish: the kernel died, ran out of memory or stopped responding
unknown_assignment      no ``solutions/<assignment>/`` for that name
missing_notebook        an assignment folder without a notebook, or a student folder with none
skipped                 a zip entry or folder refused for safety (path outside, symbolic link)
======================  =====================================================================

Each notebook is graded in a worker process (forked from one that has already imported torch)
that starts the submission's own sandbox; ``--jobs`` workers run at once (default: the number of
cores) and give the same results as ``--jobs 1``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from llmcourse.grading import gradebook
from llmcourse.grading.discovery import Submission, extract_zip, find_submissions, submissions_root
from llmcourse.grading.exercise import Course, Exercise, assignments_of, nbgrader_config
from llmcourse.grading.feedback import write_feedback
from llmcourse.grading.runner import GRADED, Options, Result, checksum
from llmcourse.grading.sandbox import Limits, SandboxUnavailable, check_available

DEFAULT_TIMEOUT = 300     # seconds for one whole notebook (the worker and its sandbox are killed after)


@dataclass
class Job:
    """One notebook for a worker: everything it needs, nothing it could confuse."""

    submission: Submission
    exercise: Exercise
    options: Options
    result_file: Path
    notes: list[str] = field(default_factory=list)


def _work(job: Job) -> None:
    """In a worker process: grade one notebook and leave the result as JSON."""
    from llmcourse.grading.runner import grade_notebook

    sub = job.submission
    try:
        result = grade_notebook(job.exercise, sub.notebook, student=sub.student, options=job.options, notes=sub.notes)
    except Exception as exc:  # a grader bug must not cost the other students their grades
        result = Result(sub.student, sub.assignment, "failed", notes=list(sub.notes))
        result.finish("failed", f"internal grader error: {exc!r}"[:500])
    gradebook.write_atomic(job.result_file, __import__("json").dumps(result.to_json()))


def _context():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["llmcourse.grading.runner"])
    return context


def grade_all(submissions: Path, out: Path, *, course_dir: Path, jobs: int | None = None, resume: bool = False,
              timeout: float = DEFAULT_TIMEOUT, cell_timeout: float | None = None, limits: Limits = Limits(),
              only: list[str] | None = None, progress: bool = True) -> list[Result]:
    """Grade every submission under ``submissions`` (a folder or a zip) into ``out``; see the module docstring."""
    check_available(limits)
    submissions, out, course_dir = Path(submissions).resolve(), Path(out).resolve(), Path(course_dir).resolve()
    known = assignments_of(course_dir)
    unknown_only = sorted(set(only or []) - known)
    if unknown_only:
        raise ValueError(f"unknown assignment(s) {', '.join(unknown_only)}; known: {', '.join(sorted(known))}")
    out.mkdir(parents=True, exist_ok=True)
    if not resume:
        for old in ("results", "feedback"):
            shutil.rmtree(out / old, ignore_errors=True)
        for old in ("grades.csv", "gradebook.db", "nbgrader_grades.csv"):
            (out / old).unlink(missing_ok=True)
    db_url = "sqlite:///" + str(out / "gradebook.db")
    done = gradebook.load_results(out) if resume else {}
    with tempfile.TemporaryDirectory(prefix="llmcourse-grade-") as tmp:
        tmp = Path(tmp)
        skipped: list[Submission] = []
        root = submissions
        if submissions.is_file():
            skipped = extract_zip(submissions, tmp / "zip")
            root = tmp / "zip"
        subs = find_submissions(submissions_root(root, known), known, set(only) if only else None) + skipped
        if not subs:
            raise ValueError(f"no submissions found in {submissions}: expected <student>/<assignment>/<assignment>.ipynb")
        course = Course(course_dir, tmp / "course", db_url=db_url)
        config = nbgrader_config(course.work / "nbgrader_config.py", course.work)
        options = Options(cell_timeout=float(cell_timeout or config.Execute.get("timeout", 30)), limits=limits,
                          course_root=course_dir)
        broken: dict[str, str] = {}
        for name in sorted({s.assignment for s in subs if s.notebook}):
            try:
                course.prepare(name)
            except Exception as exc:
                broken[name] = f"the assignment itself could not be prepared (instructor's side): {exc}"[:500]
        results = {key: r for key, r in done.items() if any(s.key == key for s in subs)}
        todo: list[Job] = []
        for sub in subs:
            if sub.notebook is None or sub.assignment in broken:
                status, message = (sub.status, sub.message) if sub.notebook is None else ("failed", broken[sub.assignment])
                results[sub.key] = Result(sub.student, sub.assignment, status, notes=list(sub.notes)).finish(status, message)
                _publish(out, results[sub.key], None, db_url)
            elif sub.key in results and results[sub.key].checksum == checksum(sub.notebook):
                continue
            else:
                todo.append(Job(sub, course.exercises[sub.assignment], options, tmp / "jobs" / f"{len(todo)}.json"))
        gradebook.write_csv(out / "grades.csv", list(results.values()))
        for result in _run(todo, jobs or os.cpu_count() or 1, timeout, progress):
            results[(result.student, result.assignment)] = result
            _publish(out, result, course.exercises.get(result.assignment), db_url)
            gradebook.write_csv(out / "grades.csv", list(results.values()))
    if any(r.status in GRADED + ("tampered",) for r in results.values()):
        gradebook.export_nbgrader_csv(db_url, out / "nbgrader_grades.csv")
    return sorted(results.values(), key=lambda r: (r.student, r.assignment))


def _publish(out: Path, result: Result, exercise: Exercise | None, db_url: str) -> None:
    """Everything about one finished submission: result file, feedback page, gradebook."""
    gradebook.save_result(out, result)
    if result.assignment:
        shown = exercise if result.status in GRADED + ("tampered",) else None
        write_feedback(out / "feedback" / result.student / f"{result.assignment}.html", result, shown)
    gradebook.record(db_url, result)


def _run(todo: list[Job], jobs: int, timeout: float, progress: bool):
    """Yield each job's result as it finishes, at most ``jobs`` at a time."""
    context = _context() if todo else None
    waiting, running = list(reversed(todo)), {}
    with tqdm(total=len(todo), desc="grading", unit="notebook", disable=not progress or not todo) as bar:
        while waiting or running:
            while waiting and len(running) < max(1, jobs):
                job = waiting.pop()
                job.result_file.parent.mkdir(parents=True, exist_ok=True)
                process = context.Process(target=_work, args=(job,), daemon=True)
                process.start()
                running[process] = (job, time.monotonic())
            time.sleep(0.05)
            for process, (job, started) in list(running.items()):
                late = time.monotonic() - started > timeout
                if process.is_alive() and not late:
                    continue
                if late:
                    process.kill()
                process.join()
                del running[process]
                result = _collect(job, late, timeout, process.exitcode)
                bar.set_postfix_str(f"{result.student}: {result.status}")
                bar.update()
                yield result


def _collect(job: Job, late: bool, timeout: float, exitcode: int | None) -> Result:
    sub = job.submission
    if not late and job.result_file.exists():
        return Result.from_json(__import__("json").loads(job.result_file.read_text(encoding="utf-8")))
    result = Result(sub.student, sub.assignment, "failed", notes=list(sub.notes), checksum=checksum(sub.notebook))
    if late:
        return result.finish("failed", f"grading took longer than the {timeout:g} s allowed for one notebook")
    return result.finish("failed", f"internal grader error: the worker stopped with exit code {exitcode}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmcourse.grading", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Statuses: graded, graded_with_repairs, tampered, invalid_notebook, failed, "
                                            "unknown_assignment, missing_notebook, skipped (see the module docstring).")
    parser.add_argument("submissions", help="folder or .zip: <student>/<assignment>/<assignment>.ipynb")
    parser.add_argument("--out", default="grading", help="output folder (default: grading/)")
    parser.add_argument("--jobs", type=int, default=None, help="notebooks graded at once (default: number of cores)")
    parser.add_argument("--resume", action="store_true", help="keep finished results in OUT; grade only the rest")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds for one whole notebook (default: {DEFAULT_TIMEOUT})")
    parser.add_argument("--cell-timeout", type=float, default=None,
                        help="seconds per cell (default: Execute.timeout of nbgrader_config.py)")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_mb,
                        help=f"memory for one notebook's processes together, MiB (default: {Limits.memory_mb})")
    parser.add_argument("--assignment", nargs="+", metavar="A", help="grade only these assignments")
    parser.add_argument("--course", default=".", help="course root with solutions/ and nbgrader_config.py (default: .)")
    args = parser.parse_args(argv)
    submissions, course_dir = Path(args.submissions), Path(args.course).resolve()
    if not submissions.exists():
        parser.error(f"{submissions} does not exist (expected a folder or a .zip of submissions)")
    if submissions.is_file() and not zipfile.is_zipfile(submissions):
        parser.error(f"{submissions} is neither a folder nor a readable .zip file")
    for required in ("solutions", "nbgrader_config.py"):
        if not (course_dir / required).exists():
            parser.error(f"{course_dir} has no {required}: run from the course root or pass --course")
    try:
        results = grade_all(submissions, Path(args.out), course_dir=course_dir, jobs=args.jobs, resume=args.resume,
                            timeout=args.timeout, cell_timeout=args.cell_timeout,
                            limits=Limits(memory_mb=args.memory_mb), only=args.assignment)
    except SandboxUnavailable as exc:
        parser.exit(3, f"{parser.prog}: cannot grade safely on this machine: {exc}\n")
    except (ValueError, zipfile.BadZipFile) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    counts = Counter(r.status for r in results)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    print(f"{len(results)} submissions: {summary} → {Path(args.out) / 'grades.csv'}, {Path(args.out) / 'feedback'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
