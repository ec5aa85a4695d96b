"""Shared by the browser tests (test_book.py, test_lab.py): Debian's Chromium driven by Playwright.

Playwright's own browser download is never used: ``make test`` installs Debian's ``chromium``
package (``make chromium``) and the tests launch that binary. Without it they fail with a message
that says how to install it, rather than skip: the browser checks are part of the course's bar.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

WIDTH, HEIGHT = 1366, 900  # the laptop screen the pages must read on without scrolling sideways


def chromium_path() -> str:
    found = os.environ.get("LLMCOURSE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        import pytest

        pytest.fail("the browser tests need Chromium: `make chromium` (as root, as `make test` does), or "
                    "`sudo apt-get install chromium`, or set LLMCOURSE_CHROMIUM to a Chromium binary")
    return found


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # one line per request would flood pytest's output
        pass


@contextlib.contextmanager
def serve(folder: Path):
    """Serve ``folder`` over HTTP on a free local port; yields the base URL (ending in /)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def browser():
    """A headless Chromium (Playwright's sync API); yields the Browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield instance
        finally:
            instance.close()


class PageLog:
    """Console errors, uncaught exceptions and failed or 4xx/5xx requests of one page, as it loads."""

    def __init__(self, page) -> None:
        self.problems: list[str] = []
        page.on("console", lambda m: self.problems.append(f"console error: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.problems.append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} ({r.failure})"))
        page.on("response", lambda r: self.problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
