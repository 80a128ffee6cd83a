"""Sphinx configuration of gdfast's API reference.

Built from the docstrings of the *installed* gdfast (numpydoc format):

    pip install '.[docs]'
    sphinx-build -W -b html docs docs/_build/html

tests/test_docs.py builds it the same way, warnings as errors. The Markdown
pages beside this file (speed, accuracy, architecture, development) are read
on the repository host and are not part of this build.
"""

import gdfast

project = "gdfast"
author = "The gdfast contributors"
copyright = "2026, The gdfast contributors"
version = release = gdfast.__version__

extensions = ["sphinx.ext.autodoc", "numpydoc"]
exclude_patterns = ["_build", "*.md"]
root_doc = "index"

autodoc_default_options = {"member-order": "bysource"}
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
html_theme = "alabaster"
