"""Test helpers shared by the test modules (tests/ is on sys.path)."""

import numpy as np


def synthetic(n, seed=0, slope=3.0, noise=0.5, dtype=np.float64):
    """y = slope*x + noise, x ~ N(0, 1): the large-data fixture."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    y = slope * x + noise * rng.standard_normal(n)
    return x.astype(dtype), y.astype(dtype)


def max_rel(a, b):
    """Largest |a-b| / |b| over paired entries (0 where both are 0)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    assert a.shape == b.shape
    scale = np.maximum(np.abs(b), np.finfo(float).tiny)
    return float(np.max(np.abs(a - b) / scale)) if a.size else 0.0


def with_and_without_avx2(code, cwd, timeout=120):
    """Run ``code`` in two fresh interpreters, GDFAST_NO_AVX2=0 and =1 (the
    SIMD level is chosen once per process); {flag: its printed lines}."""
    import os
    import subprocess
    import sys
    runs = {}
    for flag in ("0", "1"):
        env = dict(os.environ, GDFAST_NO_AVX2=flag)
        proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, proc.stderr
        runs[flag] = proc.stdout.splitlines()
    return runs


def without(package, code, cwd, timeout=120):
    """Run ``code`` in a fresh interpreter where ``package`` cannot be found
    (a finder ahead of the others refuses it, as if not installed); its
    stdout (the run must succeed)."""
    import subprocess
    import sys
    block = (
        "import sys\n"
        "class _Absent:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.partition('.')[0] == {package!r}:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, _Absent())\n")
    proc = subprocess.run([sys.executable, "-c", block + code], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout
