"""Sphinx configuration of gancore's documentation (MyST Markdown, furo theme).

Build: ``nox -s docs`` or ``sphinx-build -W --keep-going -b html docs docs/_build/html``.
"""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "gancore"
author = "gancore contributors"
copyright = "2026, gancore contributors"

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "examples", "Thumbs.db", ".DS_Store"]
html_theme = "furo"
html_title = "gancore"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# Hookspec docstrings name classes such as gancore.data.DataSpec; unresolved cross-references
# are not errors (nitpicky is off), but every other warning is. Family pages link to the
# repository's README.md, which lies outside the docs and is not a page of its own.
suppress_warnings = ["myst.xref_missing"]
