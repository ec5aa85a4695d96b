"""`make lab` end to end, as a learner meets it, in Debian's Chromium (see tests/_browser.py).

JupyterLab starts on a fresh learner workspace with the learner configuration (.jupyter-learner/),
exactly as `make lab` starts it. In the browser: open an exercise from the workspace, run it, press
Validate on the untouched notebook (it fails, naming NotImplementedError) and on one whose answers
are filled in (it passes). Also: the workspace copy is what is edited — the tracked notebook is
byte-for-byte unchanged afterwards.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from llmcourse.grading.notebook import fill_solutions
from llmcourse.workspace import make_workspace

ROOT = Path(__file__).resolve().parents[1]
A = "ch00_intro"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base URL with token, workspace folder) of a JupyterLab started as `make lab` starts it."""
    tmp = tmp_path_factory.mktemp("lab")
    ws = tmp / "workspace"
    make_workspace(ROOT, ws)
    release = nbformat.read(ROOT / "notebooks" / A / f"{A}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / A / f"{A}.ipynb", as_version=4)
    nbformat.write(fill_solutions(release, source), ws / "exercises" / A / f"{A}_answered.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(ROOT / ".jupyter-learner"),
           "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"), "JUPYTER_DATA_DIR": str(tmp / "data")}
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")  # the venv's extensions and kernel
    command = [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", f"--port={port}",
               "--ip=127.0.0.1", f"--ServerApp.token={token}", f"--notebook-dir={ws}",
               f"--LabApp.workspaces_dir={tmp / 'lab-workspaces'}", f"--LabApp.user_settings_dir={tmp / 'settings'}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = open(tmp / "lab.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("JupyterLab did not start:\n" + (tmp / "lab.log").read_text()[-3000:])
            time.sleep(0.5)
    try:
        yield base, token, ws
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


VISIBLE = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def _open(page, base: str, token: str, path: str) -> None:
    """Open ``path`` and wait until it is the current tab, drawn, with its own kernel idle."""
    page.goto(f"{base}/lab/tree/{path}?token={token}", wait_until="domcontentloaded")
    name = path.rsplit("/", 1)[-1]
    # a second notebook opens in a new tab: wait for *its* tab to be current, not for any notebook
    page.wait_for_function("name => [...document.querySelectorAll('.jp-mod-current .lm-TabBar-tab.lm-mod-current "
                           ".lm-TabBar-tabLabel, .lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current "
                           ".lm-TabBar-tabLabel')].some(t => t.textContent.trim() === name)", arg=name, timeout=60_000)
    page.wait_for_selector(f"{VISIBLE} .jp-Cell", timeout=60_000)
    # the status bar names the current notebook's kernel: "No Kernel | Initializing" until its session has
    # started (the toolbar's indicator already says idle then, and Run All would ask to select a kernel)
    page.wait_for_function("() => [...document.querySelectorAll('.jp-StatusBar-Widget')].some(w => "
                           "/Python 3.*\\| Idle/.test(w.innerText))", timeout=120_000)


PROMPTS = ("() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')]"
           ".map(p => p.textContent.trim())")


def _run_all(page) -> None:
    """Run > Run All Cells, and wait until the run is over.

    On a loaded machine the kernel can still be connecting when the notebook first shows "idle", and
    JupyterLab then drops the command: so the menu is used again until a cell starts ([*] or a number).
    """
    dialogs = []
    for _ in range(6):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(f"() => ({PROMPTS})().some(p => /[*0-9]/.test(p))", timeout=15_000)
            break
        except Exception:  # playwright's TimeoutError: nothing started; try the menu again
            page.keyboard.press("Escape")
            if page.locator(".jp-Dialog").count():  # a dialog JupyterLab raised meanwhile (Select Kernel):
                dialogs.append(page.locator(".jp-Dialog").inner_text()[:300])  # accept its default, as a learner
                page.locator(".jp-Dialog button").last.click()
    else:
        pytest.fail(f"Run All Cells never started a cell; dialogs seen: {dialogs}")
    # over when a cell has run (its prompt has a number), none is running or queued ([*]), and the kernel is idle
    page.wait_for_function(f"() => {{ const ps = ({PROMPTS})(); "
                           "return ps.some(p => /\\[\\d+\\]/.test(p)) && !ps.some(p => p.includes('*')); }",
                           timeout=180_000)
    page.wait_for_selector(f"{VISIBLE} .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)


def _validate(page) -> str:
    toolbar = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-NotebookPanel-toolbar")
    toolbar.get_by_text("Validate", exact=True).click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=120_000)
    page.wait_for_function("() => !document.querySelector('.jp-Dialog').textContent.includes('Validating...')",
                           timeout=120_000)
    text = dialog.inner_text()
    page.locator(".jp-Dialog button", has_text="OK").first.click()
    dialog.wait_for(state="detached", timeout=10_000)
    return text


def test_an_exercise_runs_and_validates_in_the_learners_workspace(lab):
    from _browser import HEIGHT, WIDTH, browser

    base, token, ws = lab
    tracked = (ROOT / "notebooks" / A / f"{A}.ipynb").read_bytes()
    with browser() as chromium:
        page = chromium.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        _open(page, base, token, f"exercises/{A}/{A}.ipynb")
        _run_all(page)
        # JupyterLab draws only the cells in view, so read the prompts: Run All stops at the first task's
        # `raise NotImplementedError()`, leaving the cells after it unrun
        prompts = page.evaluate(PROMPTS)
        ran = [p for p in prompts if re.fullmatch(r"\[\d+\]:", p)]
        assert 2 <= len(ran) < len(prompts), f"running the blank exercise should stop at a task: {prompts}"
        blank = _validate(page)
        assert "Validation failed" in blank or "The following cell failed" in blank, blank[:500]
        assert "NotImplementedError" in blank, blank[:500]

        _open(page, base, token, f"exercises/{A}/{A}_answered.ipynb")
        _run_all(page)
        answered = _validate(page)
        assert "Success! Your notebook passes all the tests" in answered, answered[:800]
        assert not errors, f"uncaught errors in JupyterLab: {errors}"
        # nbgrader's own menu is switched off for learners; the Validate button is the way in
        assert page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").count() == 0
    assert (ROOT / "notebooks" / A / f"{A}.ipynb").read_bytes() == tracked, "the tracked exercise was changed"
