"""The project's conventions: layout, one slug per chapter, configuration that really loads."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from llmcourse.grading.authoring import AuthoringError, check_solutions, convert_notebook

ROOT = Path(__file__).resolve().parents[1]


def test_layout_and_readme_commands():
    for name in ("README.md", "pyproject.toml", "Makefile", "_config.yml", "_toc.yml",
                 "nbgrader_config.py", ".ci/run", "constraints.txt"):
        assert (ROOT / name).is_file(), name
    for name in ("book", "notebooks", "solutions", "src/llmcourse", "tests", "bench"):
        assert (ROOT / name).is_dir(), name
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
    assert re.search(r"^make test\b", (ROOT / ".ci/run").read_text(), re.M), ".ci/run must call `make test`"


def test_constraints_pin_every_package_and_torch():
    lines = [l for l in (ROOT / "constraints.txt").read_text().splitlines() if l and not l.startswith("#")]
    assert "torch==2.13.0" in lines
    unpinned = [l for l in lines if "==" not in l]
    assert not unpinned, f"unpinned entries in constraints.txt: {unpinned}"


def _split(cell: str) -> list[str]:
    return [name.strip() for name in cell.split(",") if name.strip()]


def _init_table() -> list[tuple[str, list[str], list[str]]]:
    """The chapter → modules → tests table of ``llmcourse/__init__.py`` (an RST simple table)."""
    import llmcourse

    lines = llmcourse.__doc__.splitlines()
    rulers = [i for i, line in enumerate(lines) if re.fullmatch(r"=+( +=+)+", line)]
    assert len(rulers) >= 3, "llmcourse/__init__.py: the chapter table (three ===== rulers) is missing"
    starts = [m.start() for m in re.finditer(r"=+", lines[rulers[0]])]
    rows: list[list[str]] = []
    for line in lines[rulers[1] + 1:rulers[2]]:
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [len(line) + 1])]
        if cells[0]:
            rows.append(cells)
        else:
            rows[-1] = [f"{old} {new}".strip() for old, new in zip(rows[-1], cells)]
    return [(chapter, _split(modules), _split(tests)) for chapter, modules, tests in rows]


def test_one_slug_names_each_chapter_everywhere():
    chapters = sorted(p.stem for p in (ROOT / "book").glob("ch[0-9][0-9]_*.ipynb"))
    assert chapters, "no chapters in book/"
    for slug in chapters:
        assert (ROOT / "solutions" / slug / f"{slug}.ipynb").is_file(), f"solutions/{slug}/{slug}.ipynb"
        assert (ROOT / "notebooks" / slug / f"{slug}.ipynb").is_file(), f"notebooks/{slug}/{slug}.ipynb"
    assert sorted(p.name for p in (ROOT / "solutions").glob("ch*")) == chapters


def test_chapter_table_matches_the_package_the_tests_and_the_readme():
    table = _init_table()
    chapters = sorted(p.stem for p in (ROOT / "book").glob("ch[0-9][0-9]_*.ipynb"))
    assert [row[0] for row in table if row[0].startswith("ch")] == chapters, "one table row per book chapter, in order"
    appendices = sorted(p.stem for p in (ROOT / "book").glob("appendix_*.ipynb"))
    assert [row[0] for row in table if row[0].startswith("appendix_")] == appendices, "one row per appendix"

    package = ROOT / "src" / "llmcourse"
    modules = sorted(p.stem for p in package.glob("*.py") if p.stem not in ("__init__", "__main__"))
    modules += sorted(p.name for p in package.iterdir() if (p / "__init__.py").is_file())
    listed = [m for _, ms, _ in table for m in ms]
    assert sorted(listed) == sorted(modules), (
        f"modules not in the table: {sorted(set(modules) - set(listed))}; "
        f"in the table but not in src/llmcourse: {sorted(set(listed) - set(modules))}; "
        f"listed twice: {sorted({m for m in listed if listed.count(m) > 1})}")
    tests = sorted(p.stem for p in (ROOT / "tests").glob("test_*.py"))
    listed_tests = [t for _, _, ts in table for t in ts]
    assert sorted(listed_tests) == tests, (
        f"test files not in the table: {sorted(set(tests) - set(listed_tests))}; "
        f"in the table but missing: {sorted(set(listed_tests) - set(tests))}")

    readme = (ROOT / "README.md").read_text()
    readme_rows = [[c.strip().strip("`") for c in line.strip().strip("|").split("|")]
                   for line in readme.split("| chapter | modules | tests |", 1)[1].splitlines()[2:]
                   if line.startswith("|")]
    assert [(c, _split(m), _split(t)) for c, m, t in readme_rows] == table, \
        "README.md's chapter table differs from the one in llmcourse/__init__.py"


def test_every_chapter_module_names_its_chapter():
    import importlib

    for chapter, modules, _ in _init_table():
        if not chapter.startswith(("ch", "appendix_")):
            continue
        notebook = nbformat.read(ROOT / "book" / f"{chapter}.ipynb", as_version=4)
        heading = next(c.source for c in notebook.cells if c.cell_type == "markdown").splitlines()[0]
        match = re.fullmatch(r"# (Chapter \d\d|Appendix [A-Z]) — (.+)", heading)
        assert match, f"{chapter}: the first line is not '# Chapter NN — Title' or '# Appendix X — Title': {heading!r}"
        expected = f"({match.group(1)} — {match.group(2)})."
        for name in modules:
            module = importlib.import_module(f"llmcourse.{name}")
            first = (module.__doc__ or "").strip().splitlines()[0]
            assert first.lower().endswith(expected.lower()), (
                f"llmcourse.{name}: the docstring's first line must end with {expected!r} "
                f"(case aside), got {first!r}")


def test_nbgrader_config_loads_with_course_layout():
    # nbgrader only reads the config from the working directory, and silently falls back to its
    # defaults when the file raises: load it the way nbgrader does, in a fresh process.
    code = (
        "from traitlets.config.loader import PyFileConfigLoader\n"
        "c = PyFileConfigLoader('nbgrader_config.py', path='.').load_config()\n"
        "print(c.CourseDirectory.source_directory, c.CourseDirectory.release_directory,\n"
        "      c.GenerateAssignment.preprocessors[0].__name__, c.CourseDirectory.db_url)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    source, release, first, db_url = out.stdout.split()
    assert (source, release, first) == ("solutions", "notebooks", "TagsToNbgrader")
    assert db_url.endswith("/.nbgrader/gradebook.db")
    assert ".nbgrader/" in (ROOT / ".gitignore").read_text()


def test_learner_lab_hides_instructor_tools():
    server = json.loads((ROOT / ".jupyter-learner/jupyter_server_config.json").read_text())
    ext = server["ServerApp"]["jpserver_extensions"]
    assert ext["nbgrader.server_extensions.validate_assignment"] is True
    assert ext["nbgrader.server_extensions.formgrader"] is False
    page = json.loads((ROOT / ".jupyter-learner/labconfig/page_config.json").read_text())
    disabled = {k for k, v in page["disabledExtensions"].items() if v}
    assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"} <= disabled
    assert "@jupyter/nbgrader:menu" in disabled                      # its items all open instructor tools
    assert "@jupyterlab/apputils-extension:announcements" in disabled  # no news pop-up asking to go online
    assert "@jupyter/nbgrader:validate-assignment" not in disabled
    # The plugin ids must exist in the installed bundles (nbgrader's, JupyterLab's), or disabling them does nothing.
    bundles = {"@jupyter/nbgrader:": "share/jupyter/labextensions/@jupyter/nbgrader/static",
               "@jupyterlab/": "share/jupyter/lab/static"}
    for plugin in disabled:
        folder = next(f for prefix, f in bundles.items() if plugin.startswith(prefix))
        text = "".join(p.read_text(errors="ignore") for p in Path(sys.prefix, folder).glob("*.js"))
        assert plugin in text, f"{plugin} is not a plugin of the installed {folder}"


def test_every_solution_notebook_is_well_tagged():
    assert check_solutions(ROOT / "solutions") == []


def _nb(*cells):
    return nbformat.v4.new_notebook(cells=list(cells))


def _code(source, *tags):
    return nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)})


def test_tags_become_nbgrader_metadata():
    nb = _nb(_code("import torch", "locked"),
             _code("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION", "solution", "id:f"),
             _code("assert f() == 1", "tests", "points:3", "id:test_f"),
             _code("x = 1"))
    nb.cells[1].metadata["execution"] = {"iopub.execute_input": "2026-01-01"}
    convert_notebook(nb)
    meta = [c.metadata.get("nbgrader") for c in nb.cells]
    assert meta[0]["locked"] and not meta[0]["grade"]
    assert meta[1]["solution"] and meta[1]["grade_id"] == "f"
    assert meta[2]["grade"] and meta[2]["points"] == 3 and meta[2]["locked"]
    assert meta[3] is None
    assert "execution" not in nb.cells[1].metadata


@pytest.mark.parametrize("cells, message", [
    ([_code("assert 1", "tests")], "points:N"),
    ([_code("def f(): pass", "solution"), _code("assert 1", "tests", "points:1")], "BEGIN SOLUTION"),
    ([_code("assert 1", "tests", "points:1", "id:a"), _code("assert 2", "tests", "points:1", "id:a")], "already used"),
    ([_code("assert 1", "tests", "solution", "points:1")], "exclude each other"),
    ([_code("x = 1", "locked")], "nothing to grade"),
    ([_code("assert 1", "tests", "points:1", "id:bad id!")], "letters, digits"),
])
def test_malformed_tags_are_refused_with_the_cell_named(cells, message):
    with pytest.raises(AuthoringError, match=message):
        convert_notebook(_nb(*cells))


def test_parallel_workers_keep_a_notebooks_cells_in_one_kernel(tmp_path):
    """``make test`` runs on several pytest-xdist workers: every cell of a notebook must run in the
    same worker, or later cells meet a fresh kernel without the earlier cells' names. (``--dist
    loadgroup`` did not: pytest 9 ignores the group suffix pytest-xdist 3.8 writes into node ids.)"""
    test_line = next(line for line in (ROOT / "Makefile").read_text().splitlines()
                     if "-m pytest tests book solutions" in line)
    dist = re.search(r"--dist[ =](\S+)", test_line).group(1)
    cells = [nbformat.v4.new_code_cell("x0 = 0")]
    cells += [nbformat.v4.new_code_cell(f"x{i} = x{i - 1} + 1") for i in range(1, 12)]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), tmp_path / "chain.ipynb")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "chain.ipynb", "--nbval-lax", "-n", "2", "--dist", dist,
         "-p", "no:cacheprovider", "-q", "--rootdir", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "12 passed" in run.stdout, run.stdout[-3000:] + run.stderr[-2000:]


def test_publishing_workflow_builds_the_book_from_main():
    """.github/workflows/book.yml: on a push to main, `make book`, then GitHub Pages publishes _build/html."""
    import yaml

    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    triggers = flow[True] if True in flow else flow["on"]  # YAML 1.1 reads the key `on` as True
    assert triggers["push"]["branches"] == ["main"]
    build = flow["jobs"]["build"]["steps"]
    assert any("make book" in step.get("run", "") for step in build), "the workflow must build with make book"
    uploads = [s for s in build if s.get("uses", "").startswith("actions/upload-pages-artifact")]
    assert uploads and uploads[0]["with"]["path"] == "_build/html"
    assert any(s.get("uses", "").startswith("actions/deploy-pages") for s in flow["jobs"]["deploy"]["steps"])
    assert flow["permissions"]["pages"] == "write"
    makefile = (ROOT / "Makefile").read_text()
    assert "_build/html" in makefile and "book:" in makefile
