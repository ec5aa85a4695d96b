"""A Sphinx extension for the book's pages, loaded by ``_config.yml`` (``sphinx.local_extensions``).

It does two things.

**The repository's address as a substitution.** ``_config.yml``'s ``repository.url`` is the one
place the course's address is set; Jupyter Book passes it to the theme as
``html_theme_options["repository_url"]``. This extension replaces ``{{ repository_url }}`` in every
page's source with it before the page is parsed (code blocks included, which MyST's own
substitutions leave alone), so pages (book/run_yourself.md) print it without repeating it.

**A light/dark mode from the first visit.** Without ``default_mode`` the theme starts a first
visit (nothing in localStorage) with an empty mode and logs ``Got invalid theme mode: . Resetting to
auto.`` as a console error; this sets it to ``auto`` (follow the system).

**Each script once.**
sphinx-thebe 0.3.1 and sphinx-togglebutton add their inline scripts (``const THEBE_JS_URL = ...``)
after the HTML builder has started; Sphinx 7.4 then lists each twice (once with the file name
``None``, once with ``""``), so every page declared the same constants twice and the browser logged
``Identifier 'THEBE_JS_URL' has already been declared``. This drops a script that a page already
includes, keeping the first.
"""

from __future__ import annotations


def _key(script) -> tuple:
    # an inline script is registered with the file name None and again with "" (Sphinx 7.4): the same script
    name = getattr(script, "filename", script) or ""
    return str(name), tuple(sorted(getattr(script, "attributes", {}).items()))


def drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        if _key(script) not in seen:
            seen.add(_key(script))
            kept.append(script)
    context["script_files"] = kept


REPOSITORY_URL = "{{ repository_url }}"


def fill_repository_url(app, docname, source) -> None:
    if REPOSITORY_URL in source[0]:
        url = (app.config.html_theme_options or {}).get("repository_url", "").rstrip("/")
        source[0] = source[0].replace(REPOSITORY_URL, url)


def set_default_mode(app, config) -> None:
    # pydata-sphinx-theme 0.17 reads it from the page context (its layout.html: "{{ default_mode }}")
    config.html_context = {"default_mode": "auto", **(config.html_context or {})}


def setup(app):
    app.connect("config-inited", set_default_mode)
    app.connect("source-read", fill_repository_url)
    app.connect("html-page-context", drop_repeated_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
