"""The inner loops of gdfast/_blocks.h compiled three ways -- portable scalar
(what non-x86 CPUs build), SSE2 and AVX2 (chosen at run time) -- must give
identical bits. Needs a C compiler; the header ships inside the package."""

import os
import platform
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

import gdfast

HEADER_DIR = pathlib.Path(gdfast.__file__).parent
#: the run lengths the harness tries: with the fold's eight segments of q =
#: m // 8 steps, taken four at a time in float's tiles, q is 0 (1-5: a tail
#: alone) and q % 4 is 0 (32, 100, 2048), 1 (8, 5003), 2 (16, 48) and 3 (31,
#: 57); 31, 57, 100 and 5003 have a tail too
SIZES = (1, 3, 4, 5, 8, 16, 31, 32, 48, 57, 100, 2048, 5003)
CC = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")

HARNESS = r"""
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
typedef ptrdiff_t Py_ssize_t;
#include "_blocks.h"

static uint64_t state = 88172645463325252ULL;
static double next(void) {            /* xorshift64: same data on every build */
    state ^= state << 13; state ^= state >> 7; state ^= state << 17;
    return (double)(state >> 11) / 9007199254740992.0 - 0.5;
}

int main(void) {
    static double xd[5003], yd[5003];
    static float xf[5003], yf[5003];
    static int64_t idx[5003];
    const Py_ssize_t sizes[] = {1, 3, 4, 5, 8, 16, 31, 32, 48, 57, 100, 2048, 5003};
    double out[3], mx[10][2];
    int k, i, j;
    for (i = 0; i < 5003; i++) {
        xd[i] = 3.0 * next(); yd[i] = 2.0 * xd[i] + 0.1 * next();
        xf[i] = (float)xd[i]; yf[i] = (float)yd[i];
        idx[i] = (int64_t)((i * 7919L) % 5003);
    }
    printf("simd %d\n", gdfast_simd_level());
    for (k = 0; k < (int)(sizeof sizes / sizeof sizes[0]); k++) {
        Py_ssize_t m = sizes[k];
        block_sums_d(xd, yd, m, 1.37, out, 1);
        printf("d %ld %a %a %a\n", (long)m, out[0], out[1], out[2]);
        block_sums_f(xf, yf, m, 1.37, out, 1);
        printf("f %ld %a %a %a\n", (long)m, out[0], out[1], out[2]);
        printf("sgd %ld %a %a %a %a\n", (long)m,
               sgd_fold_d(xd, yd, NULL, m, 0.5, 0.02, NULL),
               sgd_fold_f(xf, yf, NULL, m, 0.5, 0.02, NULL),
               sgd_fold_d(xd, yd, idx, m, 0.5, 0.02, NULL),
               sgd_fold_f(xf, yf, idx, m, 0.5, 0.02, NULL));
        printf("mb %ld %a %a %a %a\n", (long)m,
               mb_affine_d(xd, yd, m, 32, 0.5, 0.02, NULL),
               mb_affine_f(xf, yf, m, 32, 0.5, 0.02, NULL),
               mb_affine_d(xd, yd, m, 5, 0.5, 0.02, NULL),
               mb_affine_f(xf, yf, m, 5, 0.5, 0.02, NULL));
        /* the same runs collecting the certificate's maxima (the same w), and
           max_abs_pair itself: "w... max|x| max|y|" per call */
        for (j = 0; j < 8; j++) mx[j][0] = mx[j][1] = 0.0;
        printf("max %ld %a %a %a %a", (long)m,
               sgd_fold_d(xd, yd, NULL, m, 0.5, 0.02, mx[0]),
               sgd_fold_f(xf, yf, NULL, m, 0.5, 0.02, mx[1]),
               mb_affine_d(xd, yd, m, 32, 0.5, 0.02, mx[2]),
               mb_affine_f(xf, yf, m, 5, 0.5, 0.02, mx[3]));
        max_abs_pair_d(xd, yd, m, mx[4], mx[4] + 1);
        max_abs_pair_f(xf, yf, m, mx[5], mx[5] + 1);
        for (j = 0; j < 6; j++) printf(" %a %a", mx[j][0], mx[j][1]);
        printf("\n");
        /* the runs' maps (A, B), composed after a map of two runs earlier */
        for (j = 6; j < 10; j++) { mx[j][0] = 0.75; mx[j][1] = -0.25; }
        sgd_fold_map_d(xd, yd, NULL, m, 0.02, mx[6]);
        sgd_fold_map_f(xf, yf, idx, m, 0.02, mx[7]);
        sgd_fold_map_d(xd, yd, idx, m, 0.02, mx[8]);
        sgd_fold_map_f(xf, yf, NULL, m, 0.02, mx[9]);
        printf("map %ld", (long)m);
        for (j = 6; j < 10; j++) printf(" %a %a", mx[j][0], mx[j][1]);
        printf("\n");
    }
    /* a run of a "blocks" group straight from its 64 blocks (rows 8..15 of
       each), and the same 512 samples through their written rows */
    {
        static int64_t base[64], rows[512];
        for (i = 0; i < 64; i++) base[i] = (int64_t)((i * 613L) % 4700);
        for (i = 0; i < 512; i++) rows[i] = base[i % 64] + 8 + i / 64;
        printf("grp %a %a %a %a\n",
               sgd_fold_group_d(xd, yd, base, 8, 0.5, 0.02, base, 16),
               sgd_fold_d(xd, yd, rows, 512, 0.5, 0.02, NULL),
               sgd_fold_group_f(xf, yf, base, 8, 0.5, 0.02, NULL, 0),
               sgd_fold_f(xf, yf, rows, 512, 0.5, 0.02, NULL));
    }
    /* the maxima find one extreme sample wherever it lies -- in a float
       tile, a remaining step, the tail -- and skip a NaN: every position of
       runs of 1 to 70 samples; misses counted */
    {
        int miss = 0;
        Py_ssize_t m, p;
        for (m = 1; m <= 70; m++)
            for (p = 0; p < m; p++)
                for (k = 0; k < 2; k++) {
                    const double xs = xd[p], ys = yd[p];
                    const float fs = xf[p], gs = yf[p];
                    const double big = k ? (double)NAN : -1e3;
                    xd[p] = big; yd[p] = -big; xf[p] = (float)big; yf[p] = (float)-big;
                    mx[0][0] = mx[0][1] = mx[1][0] = mx[1][1] = 0.0;
                    sgd_fold_d(xd, yd, NULL, m, 0.5, 1e-9, mx[0]);
                    sgd_fold_f(xf, yf, NULL, m, 0.5, 1e-9, mx[1]);
                    for (j = 0; j < 2; j++)
                        miss += k ? !(mx[j][0] < 3.0 && mx[j][1] < 4.0)  /* data: |x| < 1.5, |y| < 3.1 */
                                  : !(mx[j][0] == 1e3 && mx[j][1] == 1e3);
                    xd[p] = xs; yd[p] = ys; xf[p] = fs; yf[p] = gs;
                }
        printf("plant %d\n", miss);
    }
    return 0;
}
"""


def _c_data(n):
    """The harness's xd, yd: its xorshift64 stream, in Python."""
    s, out = 88172645463325252, []
    for _ in range(2 * n):
        s ^= (s << 13) & 0xFFFFFFFFFFFFFFFF
        s ^= s >> 7
        s ^= (s << 17) & 0xFFFFFFFFFFFFFFFF
        out.append((s >> 11) / 9007199254740992.0 - 0.5)
    u = np.array(out).reshape(n, 2)
    xd = 3.0 * u[:, 0]
    return xd, 2.0 * xd + 0.1 * u[:, 1]


def _build_and_run(tmp_path, name, defines, env=None):
    src = tmp_path / "harness.c"
    src.write_text(HARNESS)
    exe = tmp_path / name
    subprocess.run([CC, "-O3", "-ffp-contract=off", *defines, f"-I{HEADER_DIR}",
                    str(src), "-o", str(exe)], check=True, capture_output=True)
    run_env = dict(os.environ, **(env or {}))
    return subprocess.run([str(exe)], check=True, capture_output=True, text=True,
                          env=run_env).stdout.splitlines()


@pytest.mark.skipif(CC is None, reason="needs a C compiler")
@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"),
                    reason="the SSE2/AVX2 paths exist only on x86; other CPUs build the "
                    "portable scalar loops")
def test_scalar_sse2_and_avx2_paths_give_identical_bits(tmp_path):
    if not (HEADER_DIR / "_blocks.h").exists():
        pytest.skip("installed without its C header")
    scalar = _build_and_run(tmp_path, "scalar", ["-DGDFAST_NO_SIMD"])
    sse2 = _build_and_run(tmp_path, "simd", [], env={"GDFAST_NO_AVX2": "1"})
    best = _build_and_run(tmp_path, "simd", [])
    assert (scalar[0], sse2[0]) == ("simd 0", "simd 1") and best[0] in ("simd 1", "simd 2")
    assert len(scalar) == 1 + 6 * len(SIZES) + 2
    assert scalar[-1] == "plant 0"
    assert scalar[1:] == sse2[1:] == best[1:]
    grp = scalar[-2].split()       # the group run = the same samples' written rows
    assert grp[0] == "grp" and grp[1] == grp[2] and grp[3] == grp[4]
    # collecting the maxima changes no w, and every way finds the true maxima
    xall, yall = _c_data(5003)
    for m, lines in zip(SIZES, np.reshape(scalar[1:-2], (len(SIZES), 6))):
        sgd, mb, mx = lines[2].split()[2:], lines[3].split()[2:], lines[4].split()[2:]
        assert mx[:4] == [sgd[0], sgd[1], mb[0], mb[3]], m
        xd, yd = xall[:m], yall[:m]
        want = [float(abs(xd).max()), float(abs(yd).max())]
        want32 = [float(abs(xd.astype(np.float32)).max()),
                  float(abs(yd.astype(np.float32)).max())]
        got = [float.fromhex(v) for v in mx[4:]]
        assert got == want + want32 + want + want32 + want + want32, m
