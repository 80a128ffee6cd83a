"""Build the Cython extensions. Metadata lives in pyproject.toml.

Flags: -O3; -ffp-contract=off so no compiler fuses a*b+c into an FMA behind
our back (results would then depend on the CPU); OpenMP for the parallel
passes (set GDFAST_NO_OPENMP=1 to build without it: threads= then has no
effect). No -march=native and no fast-math: the wheel is portable and the
arithmetic is what the source says.
"""

import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

openmp = os.environ.get("GDFAST_NO_OPENMP", "") in ("", "0") and sys.platform != "darwin"
if sys.platform == "win32":
    cflags, lflags = (["/O2", "/fp:precise"] + (["/openmp"] if openmp else [])), []
else:
    cflags = ["-O3", "-ffp-contract=off"] + (["-fopenmp"] if openmp else [])
    lflags = ["-fopenmp"] if openmp else []

extensions = [
    Extension("gdfast._kernels", ["gdfast/_kernels.pyx"], include_dirs=["gdfast"],
              depends=["gdfast/_blocks.h", "gdfast/_blocks.pxd"],
              extra_compile_args=cflags, extra_link_args=lflags),
    Extension("gdfast._rows", ["gdfast/_rows.pyx"],
              extra_compile_args=cflags, extra_link_args=lflags),
    Extension("gdfast._chunks", ["gdfast/_chunks.pyx"],
              extra_compile_args=[f for f in cflags if "openmp" not in f]),
    Extension("gdfast._seq", ["gdfast/_seq.pyx"], include_dirs=["gdfast"],
              depends=["gdfast/_blocks.h", "gdfast/_blocks.pxd"],
              extra_compile_args=[f for f in cflags if "openmp" not in f]),
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": "3"},
    ),
)
