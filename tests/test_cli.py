"""The command line, through subprocess, as a user runs it."""

import os
import subprocess
import sys

import numpy as np
import pytest

import gdfast.reference as reference


def _run(args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "gdfast", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300,
                          env=None if env is None else dict(os.environ, **env))


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


def test_demo_shows_the_per_epoch_pass_figure_and_says_what_it_compares(demo):
    proc, _ = demo
    out = proc.stdout
    # 20,000 samples: "auto" runs "pass" itself, so its table row is not repeated
    rows = [ln for ln in out.splitlines() if ln.startswith("batch_gd method=") and ln[-1] == "x"]
    assert len(rows) == 1 and rows[0].startswith("batch_gd method='pass' ")
    assert "speed-up = the reference's ns/sample-epoch over gdfast's." in out
    assert "method='pass' makes one pass per epoch, as the reference does" in out
    # 5 epochs at lr = 0.01 leave batch_gd far from the slope: said, not hidden
    assert "not converged: batch_gd ends at w = " in out


def test_demo_writes_where_it_says(tmp_path):
    proc = _run(["demo", "--quiet", "--out", "noext", "--n", "1000", "--ref-n", "100",
                 "--epochs", "2"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = [p.name for p in tmp_path.iterdir()]
    assert written == ["noext.png"]
    assert f"saved the loss curves to {tmp_path / 'noext.png'}" in proc.stdout


def test_out_into_a_missing_folder_is_refused_before_training(tmp_path):
    proc = _run(["demo", "--out", "nowhere/curves.png"], tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "does not exist" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_out_that_is_a_folder_is_refused_before_training(tmp_path):
    (tmp_path / "d.png").mkdir()
    proc = _run(["demo", "--out", "d.png", "--epochs", "1"], tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "is a folder" in proc.stderr and len(proc.stderr.splitlines()) == 1


@pytest.mark.parametrize("flag,value", [("--epochs", str(2 ** 63)), ("--epochs", "100001"),
                                        ("--n", "1e13"), ("--n", "100000001"),
                                        ("--ref-n", str(10 ** 7))])
def test_counts_beyond_their_limit_are_refused_before_training(tmp_path, flag, value):
    proc = _run(["demo", "--quiet", flag, value], tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "at most" in proc.stderr and flag in proc.stderr
    assert len(proc.stderr.splitlines()) == 1


def test_out_in_a_format_matplotlib_cannot_write_is_refused(tmp_path):
    pytest.importorskip("matplotlib")
    proc = _run(["demo", "--out", "x.nosuchformat"], tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "cannot write '.nosuchformat'" in proc.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="elsewhere a window may open (and block) without DISPLAY")
def test_show_without_a_display_says_why_nothing_opened(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run([sys.executable, "-m", "gdfast", "demo", "--show", "--quiet",
                           "--out", "s.png", "--n", "1000", "--ref-n", "100", "--epochs", "2"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "--show: no window opened: there is no display" in proc.stderr


def test_pure_python_demo_says_there_is_no_speed_up(tmp_path):
    proc = _run(["demo", "--quiet", "--out", "p.png", "--n", "1000", "--ref-n", "100",
                 "--epochs", "2"], tmp_path, env={"GDFAST_PURE_PYTHON": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "speed-up: none to show: GDFAST_PURE_PYTHON=1" in proc.stdout
    assert " 0x" not in proc.stdout and "implementation: python" in proc.stdout


def test_no_command_prints_the_usage_and_the_commands(tmp_path):
    proc = _run([], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: gdfast")
    assert "demo" in proc.stderr and "bench" in proc.stderr


def test_version(tmp_path):
    import gdfast
    proc = _run(["--version"], tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.startswith(f"gdfast {gdfast.__version__} ")


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


@pytest.mark.parametrize("args", [["demo", "--n", "0"], ["demo", "--bogus"], ["nope"],
                                  ["demo", "--epochs", "x"],
                                  ["bench", "--sizes", "abc"], ["bench", "--sizes", "3,1e3,"],
                                  ["bench", "--repeats", "0"], ["demo", "--seed", "-1"],
                                  ["demo", "--seed", "x"], ["demo", "--n", "1.5e0"]])
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
