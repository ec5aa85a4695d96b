"""Command line: ``python -m llmcourse <command> ...``.

Commands
--------
``stories [--n N] [--seed S] [--korean]``   print generated stories (the course corpus)
``floor [--n N] [--seed S]``                the corpus entropy floor in nats and bits per character
``execute NOTEBOOK ...``                    re-run chapter notebooks in place (fresh stored outputs)
``workspace [DIR] [--course ROOT]``         copy chapters and exercises into a learner's workspace (``make lab``)
``grade SUBMISSIONS [--out DIR] ...``       autograde a folder or zip of submissions (see ``llmcourse.grading.cli``)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _stories(args: argparse.Namespace) -> int:
    from llmcourse.data import generate_stories

    for story in generate_stories(args.n, seed=args.seed):
        print(story.text)
        if args.korean:
            print(story.korean)
        print()
    return 0


def _floor(args: argparse.Namespace) -> int:
    from llmcourse.data import entropy_floor

    floor = entropy_floor(n_stories=args.n, seed=args.seed)
    print(f"{floor.nats_per_char:.4f} nats/char = {floor.bits_per_char:.4f} bits/char "
          f"over {floor.n_stories} stories ({floor.n_chars} characters)")
    return 0


WIDGET = "application/vnd.jupyter.widget-view+json"


def drop_progress_widgets(nb) -> int:
    """Remove the outputs that are widgets (tqdm's progress bars in a kernel) from ``nb``; return how many.

    Without its state, which is not kept, a widget shows only its text fallback as it was when the
    output was first drawn: ``fine-tuning:   0%|          | 0/6`` in the book, stale and misleading.
    The bar is for whoever runs the chapter; the book shows the figures printed after it.
    """
    dropped = 0
    for cell in nb.cells:
        outputs = cell.get("outputs", [])
        kept = [o for o in outputs if WIDGET not in o.get("data", {})]
        dropped += len(outputs) - len(kept)
        if len(kept) != len(outputs):
            cell["outputs"] = kept
    return dropped


def execute_notebook(path: Path, timeout: int = 600) -> float:
    """Execute ``path`` in place in its own folder and return the wall time in seconds.

    Volatile metadata (per-cell execution timestamps, widget state) and progress-bar widgets are dropped so
    that re-executing a chapter changes only what its code really changed.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    elapsed = time.perf_counter() - start
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)  # progress-bar widget state: random ids, nothing to show
    drop_progress_widgets(nb)
    nbformat.write(nb, path)
    return elapsed


def _execute(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    paths = [Path(p) for p in args.notebooks]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"error: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    times = {}
    for path in tqdm(paths, desc="executing chapters", unit="nb"):
        times[path] = execute_notebook(path, timeout=args.timeout)
    for path, seconds in times.items():
        print(f"{seconds:7.1f} s  {path}")
    return 0


def _workspace(args: argparse.Namespace) -> int:
    from llmcourse.workspace import make_workspace

    try:
        report = make_workspace(args.course, args.dir)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m llmcourse``."""
    parser = argparse.ArgumentParser(prog="python -m llmcourse", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("stories", help="print generated stories")
    p.add_argument("--n", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--korean", action="store_true", help="also print the Korean rendering")
    p.set_defaults(func=_stories)
    p = sub.add_parser("floor", help="the corpus entropy floor")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_floor)
    p = sub.add_parser("execute", help="re-run notebooks in place")
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    p.set_defaults(func=_execute)
    p = sub.add_parser("workspace", help="copy chapters and exercises into a learner's workspace")
    p.add_argument("dir", nargs="?", default="workspace", help="the workspace folder (default: workspace)")
    p.add_argument("--course", default=".", help="the course repository's root (default: .)")
    p.set_defaults(func=_workspace)
    p = sub.add_parser("grade", help="autograde submissions (python -m llmcourse.grading --help)",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=lambda a: __import__("llmcourse.grading.cli", fromlist=["main"]).main(a.rest))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
