"""The built book: warning-free, complete, searchable, math offline, and free of solutions.

Builds the book once per test session into a temporary folder, exactly as ``make book`` does.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# Its module-scoped fixture (a grading run, a book build, a kernel) runs once: keep the module in one worker.
LEAK_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def toc_files() -> list[str]:
    """Every file named in _toc.yml, e.g. ``book/ch01_tokenization``."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [entry["file"] for entry in part["chapters"]]
    return files


def chapter_slugs() -> list[str]:
    return [Path(f).name for f in toc_files() if re.match(r"ch\d\d_", Path(f).name)]


@pytest.fixture(scope="session")
def build(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run(
        [str(jb), "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=600,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"book build failed:\n{log[-5000:]}"
    return out / "_build" / "html", log


def _visible_text(path: Path) -> str:
    """What a reader (or a search engine) can see of a built file, whitespace-normalised."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".ipynb":
        raw = "\n".join("".join(c.get("source", "")) for c in json.loads(raw)["cells"])
    elif path.suffix == ".html":
        raw = html.unescape(re.sub(r"<[^>]+>", "", raw))
    return "\n".join(" ".join(line.split()) for line in raw.splitlines())


def _built_files(html_dir: Path) -> list[Path]:
    return [p for p in html_dir.rglob("*")
            if p.is_file() and p.suffix in {".html", ".ipynb", ".js", ".txt", ".md", ".json"}
            and "mathjax" not in p.parts]


def test_every_page_includes_each_script_once(build):
    """A script included twice redeclares its constants: the browser logs a SyntaxError on every page."""
    html_dir, _ = build
    pages = sorted(html_dir.rglob("*.html"))
    twice = []
    for page in pages:
        scripts = re.findall(r"<script[^>]*>.*?</script>", page.read_text(encoding="utf-8"), re.S)
        twice += [f"{page.relative_to(html_dir)}: {s[:90]}" for s in set(scripts) if scripts.count(s) > 1]
    assert len(pages) > 15 and not twice, "scripts included twice: " + "; ".join(twice[:5])


def test_korean_font_is_served_and_covers_every_hangul_character(build):
    """Without a system CJK font, Hangul the bundled font lacks would show as empty boxes."""
    from fontTools.ttLib import TTFont

    html_dir, _ = build
    css = (html_dir / "_static" / "korean.css").read_text(encoding="utf-8")
    fonts = [html_dir / "_static" / url for url in re.findall(r'url\("([^"]+)"\)', css)]
    assert len(fonts) == 2 and all(f.is_file() for f in fonts), fonts
    pages = [p for p in sorted(html_dir.rglob("*.html"))              # the book's pages, not the theme's
             if "_static" not in p.parts and 'http-equiv="Refresh"' not in p.read_text(encoding="utf-8")]
    plain = [p.name for p in pages if "korean.css" not in p.read_text(encoding="utf-8")]
    assert len(pages) > 15 and not plain, f"pages without the Korean font's CSS: {plain}"
    used = {c for p in pages for c in _visible_text(p) if 0xAC00 <= ord(c) <= 0xD7A3 or 0x3131 <= ord(c) <= 0x318E}
    assert len(used) > 300, f"only {len(used)} Hangul characters in the book?"
    for font in fonts:
        missing = sorted(c for c in used if ord(c) not in TTFont(font).getBestCmap())
        assert not missing, f"{font.name} lacks {''.join(missing[:40])}: make it again (_static/fonts/README.md)"


def test_build_has_no_warnings(build):
    _, log = build
    warnings = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
    assert not warnings, "the book build printed warnings:\n" + "\n".join(warnings[:20])


def test_every_toc_page_is_built_and_nothing_else(build):
    html_dir, _ = build
    for f in toc_files():
        assert (html_dir / f"{f}.html").is_file(), f"{f}.html missing from the build"
    pages = {p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html")}
    for forbidden in ("solutions/", "notebooks/", "tests/", "src/", ".venv/", "bench/"):
        assert not [p for p in pages if p.startswith(forbidden)], f"{forbidden} was rendered"
    assert not list(html_dir.rglob("_sources/solutions*")), "solution sources were published"


def test_no_solution_markers_or_hidden_tests_in_build(build):
    html_dir, _ = build
    for path in _built_files(html_dir):
        text = path.read_text(encoding="utf-8", errors="replace")
        found = [m for m in LEAK_MARKERS if m in text]
        assert not found, f"{path.relative_to(html_dir)} contains {found}"


def _solution_snippets() -> dict[str, list[str]]:
    """Runs of three consecutive non-trivial lines of every solution block and hidden-test block."""
    snippets: dict[str, list[str]] = {}
    for nb_path in sorted(ROOT.glob("solutions/ch*/*.ipynb")):
        nb = json.loads(nb_path.read_text())
        for cell in nb["cells"]:
            source = "".join(cell["source"])
            for begin, end in (("### BEGIN SOLUTION", "### END SOLUTION"),
                               ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")):
                for block in re.findall(re.escape(begin) + r"(.*?)" + re.escape(end), source, re.S):
                    lines = [" ".join(line.split()) for line in block.splitlines()]
                    lines = [line for line in lines if len(line) >= 25 and not line.startswith("#")]
                    runs = ["\n".join(lines[i:i + 3]) for i in range(max(0, len(lines) - 2))]
                    snippets.setdefault(nb_path.name, []).extend(runs)
    return snippets


def test_no_solution_code_in_build(build):
    html_dir, _ = build
    texts = {p: _visible_text(p) for p in _built_files(html_dir)}
    for notebook, runs in _solution_snippets().items():
        for run in runs:
            where = [p.relative_to(html_dir).as_posix() for p, t in texts.items() if run in t]
            assert not where, f"solution/hidden-test code of {notebook} appears in {where}:\n{run}"


@pytest.mark.parametrize("slug", chapter_slugs())
def test_chapter_links_its_exercise_notebook(build, slug):
    html_dir, _ = build
    page = (html_dir / "book" / f"{slug}.html").read_text(encoding="utf-8")
    links = re.findall(r'href="([^"]*_downloads/[^"]*/' + re.escape(slug) + r'\.ipynb)"', page)
    assert links, f"book/{slug}.html has no download link to its exercise notebook {slug}.ipynb"
    downloaded = (html_dir / "book" / links[0]).resolve()
    released = ROOT / "notebooks" / slug / f"{slug}.ipynb"
    assert downloaded.read_bytes() == released.read_bytes(), "the linked exercise is not the student release"


def test_math_renders_offline_and_search_works(build):
    html_dir, _ = build
    assert (html_dir / "_static" / "mathjax" / "tex-chtml.js").is_file()
    page = (html_dir / "book" / "ch00_intro.html").read_text(encoding="utf-8")
    assert "_static/mathjax/tex-chtml.js" in page, "pages do not load the bundled MathJax"
    assert "cdn.jsdelivr.net/npm/mathjax" not in page
    assert (html_dir / "search.html").is_file()
    index = (html_dir / "searchindex.js").read_text(encoding="utf-8")
    assert "token" in index and "softmax" in index


# --- the glossary: every term a chapter introduces, English with its Korean equivalent -----------

# An introduction is *{term}`English` (한국어)*: the term links to its glossary entry. The braces are
# optional here so that an unlinked introduction is still found (and failed by the test below).
TERM_RE = re.compile(r"\*(\{term\}`)?([A-Za-z][^*()\n`{}]*?)`? \(([^()\n]*[\uac00-\ud7a3][^()\n]*)\)\*")


def glossary_entries() -> dict[str, str]:
    """``{english term (lower case): korean}`` from book/glossary.md's ``{glossary}`` block."""
    text = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    block = re.search(r":::\{glossary\}\n(.*?)\n:::", text, re.S)
    assert block, "book/glossary.md has no ':::{glossary}' block"
    entries, term = {}, None
    for line in block.group(1).splitlines():
        if line and not line.startswith(" "):
            term = line.strip()
        elif term and line.strip().startswith("**"):
            entries[term.lower()] = line.strip().split("**")[1]
            term = None
    return entries


def introduced_terms() -> set[tuple[str, str, str, bool]]:
    """(chapter, english, korean, linked) for every *term (한국어)* in the chapters' markdown cells."""
    found = set()
    for nb_path in sorted([*(ROOT / "book").glob("ch*.ipynb"), *(ROOT / "book").glob("appendix_*.ipynb")]):
        for cell in json.loads(nb_path.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                for link, en, ko in TERM_RE.findall("".join(cell["source"])):
                    found.add((nb_path.stem, " ".join(en.split()), ko.strip(), bool(link)))
    return found


def test_glossary_lists_every_introduced_term():
    entries = glossary_entries()
    assert len(entries) >= 20 and all(entries.values())
    missing = [f"{ch}: {en} ({ko})" for ch, en, ko, _ in sorted(introduced_terms())
               if entries.get(en.lower()) != ko]
    assert not missing, "terms introduced in chapters but missing from (or different in) the glossary:\n" + "\n".join(missing)


def test_every_chapter_introduces_terms_in_both_languages():
    chapters = {ch for ch, _, _, _ in introduced_terms()}
    appendices = {Path(f).name for f in toc_files() if Path(f).name.startswith("appendix_")}
    assert chapters == set(chapter_slugs()) | appendices, "a chapter introduces no *term (한국어)*"


def test_every_introduced_term_links_to_the_glossary():
    unlinked = [f"{ch}: *{en} ({ko})*" for ch, en, ko, linked in sorted(introduced_terms()) if not linked]
    assert not unlinked, ("write a term's introduction as *{term}`English` (한국어)* so it links to the "
                          "glossary:\n" + "\n".join(unlinked))


def test_chapters_link_their_terms_to_the_glossary(build):
    html_dir, _ = build
    for ch in sorted({ch for ch, _, _, _ in introduced_terms()}):
        page = (html_dir / "book" / f"{ch}.html").read_text(encoding="utf-8")
        assert 'href="glossary.html#term-' in page, f"book/{ch}.html links no term to the glossary"


def test_no_chapter_stores_a_stale_progress_bar():
    """A widget's state is not kept, so a stored tqdm bar reads "0%" forever: `execute` drops them."""
    from llmcourse.__main__ import WIDGET, drop_progress_widgets

    stale = [f"{nb_path.name} cell {i}" for nb_path in sorted((ROOT / "book").glob("*.ipynb"))
             for i, cell in enumerate(json.loads(nb_path.read_text())["cells"])
             for output in cell.get("outputs", []) if WIDGET in output.get("data", {})]
    assert not stale, "progress-bar widgets stored (run `python -m llmcourse execute` again): " + ", ".join(stale)

    import nbformat
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[
        nbformat.v4.new_output("display_data", data={WIDGET: {"model_id": "m"}, "text/plain": "  0%|"}),
        nbformat.v4.new_output("stream", name="stdout", text="kept\n")])])
    assert drop_progress_widgets(nb) == 1 and [o["output_type"] for o in nb.cells[0].outputs] == ["stream"]


def test_stored_source_listings_match_the_package():
    """A chapter's `show_source` output is stored: when the package's code changes, it must be run again."""
    import importlib
    import inspect
    import textwrap

    listing = re.compile(r"\*From `([\w.]+)`:\*\n\n```python\n(.*)\n```", re.S)
    stale, seen = [], 0
    for nb_path in sorted((ROOT / "book").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(nb_path.read_text())["cells"]):
            for output in cell.get("outputs", []):
                found = listing.fullmatch("".join(output.get("data", {}).get("text/markdown", "")))
                if not found:
                    continue
                seen += 1
                module, code = found.groups()
                source = inspect.getsource(importlib.import_module(module))
                # show_source dedents a method: compare every line's text, in order, within the module
                wanted = [line.strip() for line in textwrap.dedent(code).splitlines()]
                have = [line.strip() for line in source.splitlines()]
                if not any(have[k:k + len(wanted)] == wanted for k in range(len(have) - len(wanted) + 1)):
                    stale.append(f"{nb_path.name} cell {i} ({module})")
    assert seen > 50, f"only {seen} source listings found: has show_source's format changed?"
    assert not stale, "source listings that no longer match the package (run the chapter again): " + ", ".join(stale)


def test_no_chapter_stores_a_warning():
    """What a chapter printed to stderr (a library's warning, a traceback) is not for the reader: silence its cause."""
    noisy = [f"{nb_path.name} cell {i}: {''.join(output['text'])[:80]!r}"
             for nb_path in sorted((ROOT / "book").glob("*.ipynb"))
             for i, cell in enumerate(json.loads(nb_path.read_text())["cells"])
             for output in cell.get("outputs", [])
             if output.get("output_type") == "stream" and output.get("name") == "stderr"]
    assert not noisy, "chapters store output on stderr: " + "; ".join(noisy)


# --- the chapter frame: goals, prerequisites and time at the top; the exercise at the end ----------

CODE_LINE_LIMIT = 88  # characters: a code cell's line fits the content width at 1366 px (see _static/book.css)


def _chapter_notebooks() -> list[Path]:
    return [ROOT / f"{f}.ipynb" for f in toc_files() if re.match(r"(ch\d\d|appendix_[a-z])_", Path(f).name)]


def _markdown(nb_path: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(nb_path.read_text())["cells"] if c["cell_type"] == "markdown"]


def exercise_points(slug: str) -> int:
    """The points an exercise is worth: the sum of its graded test cells' ``points:N`` tags."""
    nb = json.loads((ROOT / "solutions" / slug / f"{slug}.ipynb").read_text())
    return sum(int(tag.split(":")[1]) for cell in nb["cells"] for tag in cell["metadata"].get("tags", [])
               if tag.startswith("points:"))


def _measured_run_seconds(nb_path: Path) -> float | None:
    """The run time a chapter's last cells printed ("chapter ran in 56 s"), if it prints one."""
    for cell in json.loads(nb_path.read_text())["cells"]:
        for output in cell.get("outputs", []):
            found = re.search(r"(?:chapter|appendix) ran in (\d+) s", "".join(output.get("text", "")))
            if found:
                return float(found.group(1))
    return None


@pytest.mark.parametrize("nb_path", _chapter_notebooks(), ids=lambda p: p.stem)
def test_chapter_opens_with_goals_prerequisites_and_time(nb_path):
    cells = _markdown(nb_path)[:2]
    glance = next((c for c in cells if c.lstrip().startswith(":::{admonition} At a glance")
                   or "\n:::{admonition} At a glance" in c), None)
    assert glance, f"{nb_path.name}: no ':::{{admonition}} At a glance' block in its first two markdown cells"
    for label in ("**Goals.**", "**Prerequisites.**", "**Time.**"):
        assert label in glance, f"{nb_path.name}: the at-a-glance block has no {label} paragraph"
    goals = glance.split("**Goals.**")[1].split("**Prerequisites.**")[0]
    assert len(re.findall(r"^\s*[-*] ", goals, re.M)) >= 3, f"{nb_path.name}: list at least three goals"
    prereq = glance.split("**Prerequisites.**")[1].split("**Time.**")[0]
    number = re.match(r"ch(\d\d)_", nb_path.name)
    earlier = [int(n) for n in re.findall(r"\(ch(\d\d)_\w+\.ipynb\)", prereq)]
    if number and int(number.group(1)) > 0:
        assert earlier, f"{nb_path.name}: prerequisites link no earlier chapter"
        assert all(n < int(number.group(1)) for n in earlier), f"{nb_path.name}: a prerequisite is a later chapter"
    time_text = glance.split("**Time.**")[1].split("\n:::")[0]
    assert "minutes" in time_text, f"{nb_path.name}: the Time paragraph gives no reading/exercise minutes"
    measured = _measured_run_seconds(nb_path)
    if measured is not None:
        stated = [float(s) for s in re.findall(r"(\d+) s\b", time_text)]
        stated += [60 * float(m) for m in re.findall(r"(\d+(?:\.\d+)?) minutes? (?:to run|of running)", time_text)]
        assert any(measured / 1.5 <= s <= measured * 1.5 for s in stated), (
            f"{nb_path.name}: the Time paragraph should state the run time its last cells measured ({measured:.0f} s)")


@pytest.mark.parametrize("slug", chapter_slugs())
def test_chapter_ends_with_its_exercise(slug):
    cells = _markdown(ROOT / "book" / f"{slug}.ipynb")
    headings = [(i, h) for i, c in enumerate(cells) for h in re.findall(r"^## (.+)$", c, re.M)]
    assert headings and headings[-1][1].strip() == "Exercise", f"{slug}: the last section is not '## Exercise'"
    section = "\n".join(cells[headings[-1][0]:])
    section = section[section.index("## Exercise"):]
    assert f"<../notebooks/{slug}/{slug}.ipynb>`" in section, f"{slug}: the Exercise section has no download link"
    points = exercise_points(slug)
    assert re.search(rf"\*\*{points} points\*\*", section), f"{slug}: the Exercise section should say **{points} points**"
    assert re.search(r"about \d+ minutes", section), f"{slug}: the Exercise section gives no estimated time"
    assert "make lab" in section and "Validate" in section, f"{slug}: say how to open and check the exercise"


@pytest.mark.parametrize("nb_path", _chapter_notebooks(), ids=lambda p: p.stem)
def test_chapter_code_fits_the_page(nb_path):
    """Code lines at most CODE_LINE_LIMIT characters, so a reader never scrolls a code cell sideways."""
    long = [f"cell {i}: {len(line)} chars: {line.strip()[:60]}"
            for i, cell in enumerate(json.loads(nb_path.read_text())["cells"]) if cell["cell_type"] == "code"
            for line in "".join(cell["source"]).splitlines() if len(line) > CODE_LINE_LIMIT]
    assert not long, f"{nb_path.name}: code lines over {CODE_LINE_LIMIT} characters:\n" + "\n".join(long)


@pytest.mark.parametrize("nb_path", _chapter_notebooks(), ids=lambda p: p.stem)
def test_every_figure_has_alt_text(nb_path):
    """A figure's alt text (cell metadata mystnb.image.alt) says what it shows, for screen readers."""
    missing = [f"cell {i}" for i, cell in enumerate(json.loads(nb_path.read_text())["cells"])
               if any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))
               and len(cell["metadata"].get("mystnb", {}).get("image", {}).get("alt", "")) < 40]
    assert not missing, f"{nb_path.name}: figures without alt text (40+ characters): {', '.join(missing)}"


def test_run_it_yourself_names_the_chapters_that_load_zoo_models():
    text = (ROOT / "book" / "run_yourself.md").read_text(encoding="utf-8")
    named = re.search(r"load models from the course's \*\*zoo\*\* \(Chapters ([\d, and]+)\)", text)
    assert named, "book/run_yourself.md should list the chapters that load zoo models"
    loading = {re.match(r"ch(\d\d)_", p.name).group(1) for p in (ROOT / "book").glob("ch*.ipynb")
               if "load_pretrained(" in p.read_text()}
    assert set(re.findall(r"\d\d", named.group(1))) == loading


# --- in a real browser (Debian's Chromium via Playwright; see tests/_browser.py) ------------------

MATH_READY = "() => !document.querySelector('script[src*=\"mathjax\"]') || (window.MathJax && MathJax.startup && MathJax.startup.promise.then(() => true))"
PAGE_FACTS = """() => {
  const art = document.querySelector('article') || document.body;  // search.html and genindex have none
  const over = el => el.scrollWidth > el.clientWidth + 1;
  const label = el => (el.closest('.cell_input') ? 'code cell' : el.closest('.cell_output') ? 'output' : 'code block')
                      + ': ' + el.textContent.trim().split('\\n')[0].slice(0, 60);
  return {
    overflowing: [...art.querySelectorAll('pre')].filter(over).map(label),
    wideTables: [...art.querySelectorAll('table')]
                  .filter(t => t.getBoundingClientRect().width > art.clientWidth + 1)
                  .map(t => t.textContent.trim().slice(0, 60)),
    images: [...art.querySelectorAll('img')].map(i => ({
      src: i.getAttribute('src'), loaded: i.complete && i.naturalWidth > 0, alt: i.getAttribute('alt') || '',
      scale: i.naturalWidth ? i.getBoundingClientRect().width / i.naturalWidth : 0})),
    mathSource: art.querySelectorAll('.math').length,
    mathRendered: art.querySelectorAll('mjx-container').length,
    rawTex: /\\$\\$|\\\\\\(|\\\\begin\\{/.test(art.innerText),
  };
}"""


@pytest.fixture(scope="module")
def site(build):
    """(base URL of the built book served over HTTP, a headless Chromium)."""
    from _browser import browser, serve

    html_dir, _ = build
    with serve(html_dir) as base, browser() as chromium:
        yield base, chromium


def _page_names() -> list[str]:
    return [f"{f}.html" for f in toc_files()] + ["search.html", "genindex.html"]


@pytest.fixture(scope="module")
def page_facts(site) -> dict[str, tuple[dict, list[str]]]:
    """Every page loaded once at 1366 × 900: (facts measured in the page, problems logged while loading)."""
    from _browser import HEIGHT, WIDTH, PageLog

    base, chromium = site
    context = chromium.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    found = {}
    for name in _page_names():
        page = context.new_page()
        log = PageLog(page)
        page.goto(base + name, wait_until="networkidle")
        page.wait_for_function(MATH_READY)
        found[name] = (page.evaluate(PAGE_FACTS), log.problems)
        page.close()
    context.close()
    return found


def test_every_page_loads_without_console_errors_or_failed_requests(page_facts):
    problems = [f"{name}: {p}" for name, (_, logged) in page_facts.items() for p in logged]
    assert not problems, "\n".join(problems)


def test_every_image_loads_with_alt_text_at_a_legible_size(page_facts):
    bad = []
    for name, (facts, _) in page_facts.items():
        for img in facts["images"]:
            if not img["loaded"]:
                bad.append(f"{name}: {img['src']} did not load")
            elif len(img["alt"]) < 40 or "_images/" in img["alt"]:  # docutils' default alt is the file name
                bad.append(f"{name}: {img['src']} has no alt text that describes it ({img['alt']!r})")
            elif img["scale"] < 0.6:  # matplotlib's 10-point labels at 100 dpi end up under 8 px
                bad.append(f"{name}: {img['src']} shown at {img['scale']:.0%} of its size: labels too small")
    assert not bad, "\n".join(bad)
    assert sum(len(f["images"]) for f, _ in page_facts.values()) >= 40


def test_math_is_rendered_not_raw_tex(page_facts):
    pages = {name: facts for name, (facts, _) in page_facts.items() if facts["mathSource"]}
    assert len(pages) >= 10, "math found on too few pages: has the markup changed?"
    bad = [f"{name}: {f['mathRendered']} of {f['mathSource']} formulas rendered" + (", raw TeX shown" if f["rawTex"] else "")
           for name, f in pages.items() if f["mathRendered"] < f["mathSource"] or f["rawTex"]]
    assert not bad, "\n".join(bad)


def test_no_code_block_or_table_overflows_at_1366_px(page_facts):
    bad = [f"{name}: {what}" for name, (facts, _) in page_facts.items()
           for what in facts["overflowing"] + [f"table: {t}" for t in facts["wideTables"]]]
    assert not bad, f"{len(bad)} blocks scroll sideways at 1366 px:\n" + "\n".join(bad)


@pytest.mark.parametrize("query, expected", [("softmax", "ch00_intro.html"), ("어텐션", "glossary.html")])
def test_search_finds_english_and_korean_terms(site, query, expected):
    base, chromium = site
    page = chromium.new_page()
    page.goto(f"{base}search.html?q={query}", wait_until="networkidle")
    page.wait_for_selector("#search-results ul.search li", timeout=15_000)
    hrefs = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(e => e.getAttribute('href'))")
    page.close()
    assert any(expected in h for h in hrefs), f"searching {query!r} did not find {expected}: {hrefs[:10]}"


def test_repository_launch_and_download_links_resolve(site):
    """The buttons point at the repository of _config.yml, at files git tracks; downloads are served."""
    from llmcourse.grading.authoring import repository_url

    base, chromium = site
    url = repository_url(ROOT / "_config.yml")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    branch = config["repository"]["branch"]
    owner_repo = url.removeprefix("https://github.com/")
    tracked = set(subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split())
    page = chromium.new_page()
    for slug in chapter_slugs():
        page.goto(f"{base}book/{slug}.html", wait_until="domcontentloaded")
        hrefs = set(page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"))
        path = f"book/{slug}.ipynb"
        assert path in tracked, f"the launch buttons open {path}, which git does not track"
        wanted = {url, f"https://mybinder.org/v2/gh/{owner_repo}/{branch}?urlpath=lab/tree/{path}",
                  f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/{path}"}
        assert wanted <= hrefs, f"{slug}: missing buttons {wanted - hrefs}"
        downloads = [h for h in hrefs if "/_downloads/" in h and h.endswith(f"{slug}.ipynb")]
        assert downloads and all(page.request.get(h).status == 200 for h in downloads), f"{slug}: exercise download"
    page.close()
