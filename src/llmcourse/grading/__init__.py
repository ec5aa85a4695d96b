"""Exercises and their grading: from tagged solution notebooks to a gradebook, safely.

Learners meet one function of this package, :func:`check_forbidden`, in every exercise's test
cells. Everything else is the instructor's grader (``python -m llmcourse.grading``, or
``make grade``), split by job:

================  ==========================================================================
module            job
================  ==========================================================================
``authoring``     solution notebooks' cell tags → nbgrader metadata (``generate_assignment``)
``rules``         forbidden entries (``"torch.softmax"``, ``"llmcourse.intro"``, ``".softmax"``)
``static``        the static forbidden-call check on a learner's code
``forbidden``     ``check_forbidden`` in test cells; reading the checks a test cell makes
``notebook``      reading a submission safely, restoring what a learner may not change
``exercise``      what an assignment is: set-up, graded names, test cells, points, rules
``discovery``     finding submissions in a folder or zip (every entry gets a row)
``sandbox``       bubblewrap namespaces for a kernel: what it sees, how it starts and stops
``limits``        memory and processes of the whole tree (cgroups), per-process limits
``driver``        the learner's kernel inside the sandbox (runs cells, answers calls)
``encoder``       inside the sandbox: the learner's values as plain data or handles
``monitor``       run-time checks in the sandbox: forbidden calls, tampering
``wire``          what crosses the boundary: frames, tensors as bytes, the strict decoder
``arguments``     arguments pickled into the sandbox, their changes copied back
``session``       the grader's side of a kernel: proxies, callbacks, time limits
``runner``        grading one notebook: test cells run in the grader against the sandbox
``gradebook``     results into nbgrader's gradebook and the CSV
``feedback``      the feedback page (a Jinja2 template; no hidden-test code)
``cli``           ``python -m llmcourse.grading``: many notebooks, in parallel, resumable
``similarity``    how much of a solution the book already shows (the copy-proof check)
================  ==========================================================================

Why the kernel runs in a sandbox and the tests do not: a submission's Python can do anything,
so nothing its process says can be trusted — not a test result, not an exception hook, not
``torch.allclose``. Test cells therefore run in the grader, with the learner's functions as
proxies; only plain values cross back (:mod:`llmcourse.grading.wire`).
"""

from llmcourse.grading.forbidden import ForbiddenCheck, check_forbidden, module_constants, parse_forbidden_checks
from llmcourse.grading.rules import Finding
from llmcourse.grading.static import forbidden_uses, forbidden_uses_in_cells

__all__ = ["Finding", "ForbiddenCheck", "check_forbidden", "forbidden_uses", "forbidden_uses_in_cells",
           "module_constants", "parse_forbidden_checks"]
