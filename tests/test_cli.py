"""The command line, through subprocess, as a user runs it."""

import subprocess
import sys

import numpy as np
import pytest

import gdfast.reference as reference


def _run(args, cwd):
    return subprocess.run([sys.executable, "-m", "gdfast", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("demo")
    proc = _run(["demo", "--out", "curves.png", "--n", "20000", "--ref-n", "2000",
                 "--epochs", "5"], cwd)
    return proc, cwd


def test_demo_prints_the_tutorials_lines(demo):
    proc, _ = demo
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "Predict (before training) 4 4.0"
    bgd = reference.batch_gd([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])
    sgd = reference.sgd([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])
    for label, res in (("Epoch:", bgd), ("progress:", sgd)):
        want = [f"{label} {e} w= {w!r} loss= {c!r}"
                for e, (w, c) in enumerate(zip(res.w_history.tolist(),
                                               res.loss_history.tolist()))]
        assert [ln for ln in lines if ln.startswith(label + " ")] == want
    after = [ln for ln in lines if ln.startswith("Predict (after training)")]
    assert after[0] == f"Predict (after training) 4 {4 * bgd.w!r}"
    assert after[1] == f"Predict (after training) 4 {4 * sgd.w!r}"
    assert len([ln for ln in lines if ln.startswith("batch: ")]) == 100
    assert "implementation: compiled" in proc.stdout
    for name in ("batch_gd", "sgd", "minibatch_gd"):
        assert any(ln.startswith(name + " ") for ln in lines)


def test_demo_writes_a_real_figure(demo):
    pytest.importorskip("matplotlib")
    import matplotlib.image as mpimg
    _, cwd = demo
    img = mpimg.imread(cwd / "curves.png")
    assert img.shape[:2] == (450, 700)           # figsize 7x4.5 in at 100 dpi
    rgb = img[..., :3]
    assert rgb.std() > 0.05                        # not blank
    assert (np.abs(rgb - rgb[0, 0]).sum(axis=-1) > 0.1).mean() > 0.02


def test_quiet_skips_epoch_lines(tmp_path):
    proc = _run(["demo", "--quiet", "--out", "q.png", "--n", "1000", "--ref-n", "100",
                 "--epochs", "2"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Epoch: 0" not in proc.stdout and "Predict (before training)" in proc.stdout


@pytest.mark.parametrize("args", [["demo", "--n", "0"], ["demo", "--bogus"], ["nope"], [],
                                  ["demo", "--epochs", "x"]])
def test_bad_options_exit_nonzero_with_one_line(args, tmp_path):
    proc = _run(args, tmp_path)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "error" in proc.stderr


def test_help_documents_every_option(tmp_path):
    proc = _run(["demo", "--help"], tmp_path)
    assert proc.returncode == 0
    for opt in ("--out", "--quiet", "--show", "--n", "--epochs", "--ref-n", "--seed"):
        assert opt in proc.stdout


def test_bench_report_runs_and_plots(tmp_path):
    pytest.importorskip("threadpoolctl")
    proc = _run(["bench", "--sizes", "3,1000", "--repeats", "3", "--png", "b.png",
                 "--features", "4", "--markdown"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for op in ("bgd_epoch", "sgd_epoch", "minibatch32_epoch", "batch_gd_100"):
        assert f"| {op} | 1 | 1e+03 |" in out
        assert f"| {op} | 4 | 1e+03 |" in out
    assert "| cost |" in out and "floor" in out
    assert (tmp_path / "b.png").stat().st_size > 10_000
