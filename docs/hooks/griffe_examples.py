"""Griffe extension for the API reference: read an `Example:` section as `Examples:`.

The project's docstrings title their doctests `Example:` (the style guide's spelling); the
Google parser takes that singular title for an admonition and renders the `>>>` lines as
prose. Renaming the title before parsing makes them highlighted code blocks.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rename `Example:` section titles to `Examples:` in every loaded docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _EXAMPLE.sub(r"\1Examples:", obj.docstring.value)
