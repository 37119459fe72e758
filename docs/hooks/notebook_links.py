"""MkDocs hook: make the links inside rendered notebooks point at the site's pages.

A notebook links to `../article-errata.md` or `02-first-model.ipynb`, paths that work in
Jupyter and on a code host; MkDocs rewrites such links in Markdown pages but not in the HTML
that mkdocs-jupyter renders from a notebook. This hook resolves each relative `.md` /
`.ipynb` link of a notebook page against the documentation files and replaces it by the
target page's URL, relative to the notebook's page; a link to a missing file is reported as
a warning (an error under `--strict`).
"""

from __future__ import annotations

import logging
import posixpath
import re
from typing import Any

log = logging.getLogger("mkdocs.hooks.notebook_links")

_HREF = re.compile(r'href="(?![a-z]+:|/|#)([^"#?]+\.(?:md|ipynb))(#[^"]*)?"')


def on_page_content(html: str, page: Any, config: Any, files: Any, **kwargs: Any) -> str:
    if not page.file.src_uri.endswith(".ipynb"):
        return html
    source_dir = posixpath.dirname(page.file.src_uri)

    def replace(match: re.Match) -> str:
        target_uri = posixpath.normpath(posixpath.join(source_dir, match.group(1)))
        target = files.get_file_from_path(target_uri)
        if target is None:
            log.warning("%s links to %s, which is not in the docs", page.file.src_uri, target_uri)
            return match.group(0)
        return f'href="{target.url_relative_to(page.file)}{match.group(2) or ""}"'

    return _HREF.sub(replace, html)
