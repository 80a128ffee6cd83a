"""What a newcomer meets right after `pip install .` in a clone."""

import pathlib
import subprocess
import sys

import pytest

import gdfast

ROOT = pathlib.Path(__file__).resolve().parent.parent
INSTALLED = pathlib.Path(gdfast.__file__).resolve().parent


@pytest.mark.skipif(not (ROOT / "gdfast" / "__init__.py").exists()
                    or INSTALLED == ROOT / "gdfast"
                    or any((ROOT / "gdfast").glob("_kernels*.so")),
                    reason="needs a clone whose source folder is not the installed package")
def test_import_at_the_repository_root_explains_the_shadowing():
    proc = subprocess.run([sys.executable, "-c", "import gdfast"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "imported from the source folder" in last
    assert str(INSTALLED) in last and "is shadowed" in last
    assert "run from another folder" in last and "pip install -e ." in last
