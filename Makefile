# How LLMs Work — build one from an RNN to RAG.
# Every target first runs the idempotent set-up step: a virtual environment in .venv with the
# package (editable) and every dependency pinned by constraints.txt.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUBMISSIONS ?=
# The learner's workspace (git-ignored): `make lab` copies the chapters and exercises there, never overwriting.
WORKSPACE ?= workspace
# Test workers (pytest-xdist): one per core by default; `make test TEST_WORKERS=1` runs in one process.
TEST_WORKERS ?= auto
# Test modules `make test-fast` leaves out (each runs sandboxed grading or builds the book).
SLOW_TESTS := test_hostile test_exercises test_book test_copyproof test_grading test_validate test_sandbox
# Assignments are the folders of solutions/ (one per chapter: chNN_slug).
ASSIGNMENTS := $(notdir $(wildcard solutions/ch*))

.PHONY: help setup sandbox chromium book lab test test-fast grade execute notebooks clean

## help: list the targets (this text)
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST) | awk '{i = index($$0, ": "); printf "  make %-10s %s\n", substr($$0, 1, i - 1), substr($$0, i + 2)}'

## setup: create .venv and install the package with every dependency pinned (the other targets do it first)
setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt "pip==26.3"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	@touch $@

# $(call apt_package,COMMAND,PACKAGE,WHAT IT IS FOR): nothing if COMMAND exists; else apt-get installs
# PACKAGE when run as root on Debian (as in CI), or the target fails saying how to install it.
define apt_package
	@command -v $(1) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $(2) ($(3))"; \
	    apt-get install -y -q $(2) >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null && apt-get install -y -q $(2) >/dev/null; }; \
	  else \
	    echo "$(3) needs $(2): sudo apt-get install $(2)" >&2; exit 1; \
	  fi; }
endef

## sandbox: bubblewrap, the sandbox the grader runs notebooks in (apt-get installs it when run as root, as in CI)
sandbox:
	$(call apt_package,bwrap,bubblewrap,the grader's sandbox)

## chromium: Debian's Chromium, the browser the book's and JupyterLab's browser tests drive (apt-get installs it as root, as in CI; or set LLMCOURSE_CHROMIUM)
chromium:
	$(if $(LLMCOURSE_CHROMIUM),@true,$(call apt_package,chromium,chromium,the browser tests (Playwright downloads no browser)))

## book: build the HTML book into _build/html from the chapters' stored outputs
book: $(STAMP)
	$(BIN)/jupyter-book build . --path-output . -W -n --keep-going
	@echo "The book is at _build/html/index.html"

## lab: JupyterLab in your own workspace/ (copies of the chapters and exercises; Validate on, instructor tools off)
lab: $(STAMP)
	$(BIN)/python -m llmcourse workspace $(WORKSPACE)
	JUPYTER_CONFIG_DIR=$(CURDIR)/.jupyter-learner $(BIN)/jupyter lab --notebook-dir=$(WORKSPACE) \
	  $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

## test: unit tests and doctests, every chapter and solution notebook executed, grading round trips, book build (what CI runs)
test: $(STAMP) sandbox chromium
	$(BIN)/python -m pytest tests book solutions src/llmcourse --doctest-modules --nbval-lax -p no:cacheprovider -q --durations=15 -n $(TEST_WORKERS) --dist loadfile

## test-fast: for maintainers: unit tests, doctests and Chapter 05 (no grading round trips, book build or zoo training)
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests src/llmcourse book/ch05_attention.ipynb --doctest-modules --nbval-lax -p no:cacheprovider -q \
	  -n $(TEST_WORKERS) --dist loadfile $(foreach t,$(SLOW_TESTS),--ignore=tests/$(t).py)

## grade: autograde SUBMISSIONS (a folder or .zip of <student>/<assignment>/<assignment>.ipynb) into grading/
grade: $(STAMP) sandbox
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=<folder or zip>"; exit 2; }
	$(BIN)/python -m llmcourse.grading "$(SUBMISSIONS)" --out grading/ $(GRADE_ARGS)

## execute: re-run every book chapter in place so its stored outputs are fresh
execute: $(STAMP)
	$(BIN)/python -m llmcourse execute book/*.ipynb

## notebooks: regenerate the student notebooks in notebooks/ from solutions/ (commit the result)
notebooks: $(STAMP)
	@for a in $(ASSIGNMENTS); do $(BIN)/nbgrader generate_assignment $$a --force --log-level=WARN || exit 1; done

## clean: remove build, grading and cache outputs
clean:
	rm -rf _build grading .nbgrader .pytest_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
