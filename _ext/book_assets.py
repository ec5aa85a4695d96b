"""A Sphinx extension for the book's pages, loaded by ``_config.yml`` (``sphinx.local_extensions``).

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


def setup(app):
    app.connect("html-page-context", drop_repeated_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
