"""Build the Cython extensions. Metadata lives in pyproject.toml.

Flags: -O3; -ffp-contract=off so no compiler fuses a*b+c into an FMA behind
our back (results would then depend on the CPU); -g0 so the shipped .so
files carry no debug info (Python's own build flags often add -g and a
later -g0 wins; left out when CFLAGS in the environment asks for -g, as
tests/memcheck.sh does); OpenMP for the parallel passes (set
GDFAST_NO_OPENMP=1 to build without it: threads= then has no effect). No
-march=native and no fast-math: the wheel is portable and the arithmetic is
what the source says.
"""

import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext as _build_ext


class build_ext(_build_ext):
    """Link without the rpath some Pythons put on their own link line.

    pyenv's and other --enable-shared builds of Python add
    -Wl,-rpath,<their lib dir> to LDSHARED; an extension module needs no
    libpython, and that path would be baked into the .so as a RUNPATH to
    the build machine (auditwheel rewrites it only in the .so files it
    grafts libraries for)."""

    def build_extensions(self):
        for attr in ("linker_so", "linker_so_cxx"):
            cmd = getattr(self.compiler, attr, None)
            if isinstance(cmd, list):
                setattr(self.compiler, attr,
                        [a for a in cmd if not a.startswith(("-Wl,-rpath", "-Wl,-R"))])
        super().build_extensions()


debug = "-g" in os.environ.get("CFLAGS", "").split()
openmp = os.environ.get("GDFAST_NO_OPENMP", "") in ("", "0") and sys.platform != "darwin"
if sys.platform == "win32":
    cflags, lflags = (["/O2", "/fp:precise"] + (["/openmp"] if openmp else [])), []
else:
    cflags = (["-O3", "-ffp-contract=off"] + ([] if debug else ["-g0"])
              + (["-fopenmp"] if openmp else []))
    lflags = ["-fopenmp"] if openmp else []

extensions = [
    Extension("gdfast._kernels", ["gdfast/_kernels.pyx"], include_dirs=["gdfast"],
              depends=["gdfast/_blocks.h", "gdfast/_blocks.pxd", "gdfast/_ticker.pxd",
                       "gdfast/_order.pxd"],
              extra_compile_args=cflags, extra_link_args=lflags),
    Extension("gdfast._rows", ["gdfast/_rows.pyx"], include_dirs=["gdfast"],
              depends=["gdfast/_rowops.h", "gdfast/_moments.h", "gdfast/_blocks.h",
                       "gdfast/_blocks.pxd", "gdfast/_ticker.pxd", "gdfast/_order.pxd"],
              extra_compile_args=cflags, extra_link_args=lflags),
    Extension("gdfast._chunks", ["gdfast/_chunks.pyx"], include_dirs=["gdfast"],
              depends=["gdfast/_blocks.h", "gdfast/_blocks.pxd"],
              extra_compile_args=[f for f in cflags if "openmp" not in f]),
    Extension("gdfast._permute", ["gdfast/_permute.pyx"],
              extra_compile_args=[f for f in cflags if "openmp" not in f]),
    Extension("gdfast._seq", ["gdfast/_seq.pyx"], include_dirs=["gdfast"],
              depends=["gdfast/_blocks.h", "gdfast/_blocks.pxd"],
              extra_compile_args=[f for f in cflags if "openmp" not in f]),
]

setup(
    cmdclass={"build_ext": build_ext},
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": "3"},
    ),
)
