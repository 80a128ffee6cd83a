#!/usr/bin/env bash
# The test suite against an AddressSanitizer build of gdfast's extensions.
#
#   bash tests/memcheck.sh            (from anywhere; builds in a temp dir)
#
# Builds the Cython extensions in place with -fsanitize=address in a copy of
# the tree, preloads the ASan runtime into the (uninstrumented) Python, and
# runs the whole suite with that build first on sys.path. Any out-of-bounds
# read or write, use-after-free or double free in the compiled code aborts
# the run with a report. Leak checking is off: CPython itself never frees
# everything at exit, which would drown real reports. The plot and CLI tests
# are left out: matplotlib's C++ extension (ft2font) throws C++ exceptions,
# which a preloaded ASan runtime cannot intercept in an uninstrumented
# process (it aborts inside __cxa_throw before any of our code runs); they
# exercise no compiled path the other tests do not.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/src" "$work/site"
cp -r "$src"/setup.py "$src"/pyproject.toml "$src"/MANIFEST.in "$src"/README.md \
      "$src"/gdfast "$src"/tests "$work/src"/
rm -f "$work"/src/gdfast/*.so "$work"/src/gdfast/*.c
# the normal isolated build (as pip install . does), with ASan flags added
CFLAGS="-fsanitize=address -fno-omit-frame-pointer -g" LDFLAGS="-fsanitize=address" \
    pip wheel -q --no-deps --no-cache-dir -w "$work/wheel" "$work/src"
python -m zipfile -e "$work"/wheel/*.whl "$work/site"
export LD_PRELOAD="$(gcc -print-file-name=libasan.so)"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1"
export PYTHONPATH="$work/site"
cd "$work/src/tests"
python -c "import gdfast, sys; assert gdfast.__file__.startswith('$work/site'), gdfast.__file__; print('ASan build:', gdfast.__file__)"
python -m pytest -q -p no:cacheprovider --ignore=test_plot.py --ignore=test_cli.py "$@"
