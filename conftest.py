"""Test-session settings for every pytest run here: unit tests, doctests and notebooks (their kernels inherit them)."""

import os

# Nothing in the course may reach the network: make the Hugging Face libraries fail fast
# instead of trying a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# The model zoo (llmcourse.zoo) trains its models on first use and caches them. A test run uses
# its own fresh cache (unless LLMCOURSE_CACHE is set), so every run trains each zoo model exactly
# once — before the notebooks run, so that a chapter's execution time does not include it.
import tempfile  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

# The course's models are tiny: a second thread helps them little and, when the other core is
# busy, slows them down many times over (the chapters do the same before they train).
torch.set_num_threads(1)

os.environ.setdefault("LLMCOURSE_CACHE", tempfile.mkdtemp(prefix="llmcourse-zoo-"))


def pytest_collection_finish(session):
    notebooks = {item.path for item in session.items if str(item.path).endswith(".ipynb")}
    if not any("load_pretrained" in path.read_text(encoding="utf-8") for path in notebooks):
        return  # no notebook of this run uses the zoo (e.g. `make test-fast`)
    from llmcourse import zoo

    # Parallel workers share the cache (LLMCOURSE_CACHE is set before they start) and each model is
    # trained once under a file lock, the others waiting for it. Even workers start with the chain
    # gpt-stories → gpt-reader, gpt-reader-sentence → gpt-reader-lora (trained from gpt-stories and
    # from gpt-reader-sentence), odd workers with the models that need nothing or only gpt-stories,
    # so that two workers train two different models at once and both finish at about the same
    # time (one-thread training times, s: 234 + 138 + 60 + 25 + 51 against 199 + 150 + 138). Each
    # worker then goes through every model, loading what the other trained.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    odd = worker[2:].isdigit() and int(worker[2:]) % 2
    first = (["lstm-drills", "gpt-drills", "gpt-reader-scratch"] if odd
             else ["gpt-stories", "gpt-reader", "gpt-reader-sentence", "gpt-reader-lora", "bert-stories"])
    for name in dict.fromkeys(first + sorted(zoo.RECIPES)):
        start = time.perf_counter()
        model = zoo.load_pretrained(name, progress=False)
        print(f"\nzoo: {name} ready in {time.perf_counter() - start:.0f} s "
              f"(trained {model.info['seconds']} s, validation loss {model.info['val_loss']:.3f})", flush=True)


# nbval waits only 5 s for each output message once a cell has finished; on a loaded 2-core
# machine a cell's progress-bar messages can arrive later than that (seen once for Chapter 04's
# training cell). Give them a minute: this is not the cell's run time, only message delivery.
try:
    from nbval import plugin as _nbval_plugin

    _nbval_cell_init = _nbval_plugin.IPyNbCell.__init__

    def _patient_cell_init(self, *args, **kwargs):
        _nbval_cell_init(self, *args, **kwargs)
        self.output_timeout = 60

    _nbval_plugin.IPyNbCell.__init__ = _patient_cell_init
except ImportError:  # pragma: no cover - nbval is a test dependency
    pass


@pytest.fixture(scope="session")
def zygote():
    """A warm sandbox that forks a fresh kernel per notebook, for grading the course's own notebooks
    (mutants, pasted book code) two seconds faster each; see llmcourse.grading.session.Zygote.
    The solutions and the untouched notebooks are graded the way `make grade` does, one sandbox each."""
    from pathlib import Path

    from llmcourse.grading.runner import Options
    from llmcourse.grading.session import Zygote

    with Zygote(Options().limits, Path(__file__).resolve().parent) as warm:
        yield warm
