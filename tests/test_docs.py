"""The documentation: every public docstring's Examples run as doctests
against the installed gdfast, and the Sphinx API reference builds from them
without a warning."""

import doctest
import importlib
import pathlib
import subprocess
import sys

import pytest

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"

# Modules whose docstrings are the public API (gdfast.X re-exports them).
MODULES = ["gdfast.plot", "gdfast.errors", "gdfast.cli", "gdfast._compiled",
           "gdfast.reference", "gdfast._result"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    if name != "gdfast.cli" and "plot" in name:
        pytest.importorskip("matplotlib")
    if name == "gdfast.cli":
        pytest.importorskip("matplotlib")     # its Example runs the demo, figure included
    module = importlib.import_module(name)
    failed, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS
                                | doctest.NORMALIZE_WHITESPACE, report=True)
    assert failed == 0, f"{failed} doctest example(s) failed in {name}; see the output above"


def test_api_reference_builds_without_warnings(tmp_path):
    pytest.importorskip("sphinx", reason="the docs build needs sphinx: pip install '.[docs]'")
    pytest.importorskip("numpydoc", reason="the docs build needs numpydoc: "
                                           "pip install '.[docs]'")
    if not (DOCS / "conf.py").exists():
        pytest.skip(f"no docs/ beside the tests ({DOCS}): run from a clone or an sdist")
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q",
                           "-b", "html", "-d", str(tmp_path / "doctrees"), str(DOCS),
                           str(tmp_path / "html")],
                          capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)  # `-m` puts the cwd first: keep the source tree off it
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "html" / "api.html").exists()


def test_the_docs_name_tests_that_exist():
    """Every test the README and docs/ name exists where they say: ``file.py::name`` in that
    file, a bare name in docs/hardening.md in tests/test_hardening.py (its stated rule),
    elsewhere in some test file."""
    import re
    tests = pathlib.Path(__file__).resolve().parent
    if not DOCS.exists():
        pytest.skip(f"no docs/ beside the tests ({DOCS}): run from a clone or an sdist")
    defined = {p.name: set(re.findall(r"^def (test_\w+)", p.read_text(), re.M))
               for p in tests.glob("test_*.py")}
    anywhere = set().union(*defined.values())
    missing = []
    for doc in [DOCS.parent / "README.md", *sorted(DOCS.glob("*.md"))]:
        for file, name in re.findall(r"(?:(test_\w+\.py)::)?\b(test_[a-z0-9_]*[a-z0-9])\b(?![.*])",
                                     doc.read_text()):
            if file:
                ok = name in defined.get(file, ())
            elif doc.name == "hardening.md":
                ok = name in defined["test_hardening.py"]
            else:
                ok = name in anywhere
            if not ok:
                missing.append(f"{doc.name}: {file + '::' if file else ''}{name}")
    assert not missing, missing
