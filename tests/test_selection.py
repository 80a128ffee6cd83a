"""Which implementation `gdfast` exposes, and that it never falls back silently."""

import os
import subprocess
import sys

import pytest

import gdfast


def _python(code, tmp_path, **env):
    full_env = {k: v for k, v in os.environ.items() if k != "GDFAST_PURE_PYTHON"}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=full_env,
                          capture_output=True, text=True, timeout=120)


def test_default_is_compiled():
    assert gdfast.IMPLEMENTATION == "compiled"
    assert gdfast.cost.__module__ == "gdfast._compiled"


@pytest.mark.parametrize("value,expected", [("1", "python"), ("yes", "python"),
                                            ("0", "compiled"), ("", "compiled")])
def test_environment_variable_forces_pure_python(tmp_path, value, expected):
    proc = _python("import gdfast; print(gdfast.IMPLEMENTATION, gdfast.sgd.__module__)",
                   tmp_path, GDFAST_PURE_PYTHON=value)
    assert proc.returncode == 0, proc.stderr
    impl, module = proc.stdout.split()
    assert impl == expected
    assert module == ("gdfast.reference" if expected == "python" else "gdfast._compiled")


def test_missing_extension_is_an_error_not_a_fallback(tmp_path):
    code = ("import sys; sys.modules['gdfast._kernels'] = None\n"
            "try:\n    import gdfast\nexcept ImportError as e:\n    print('ImportError:', e)\n"
            "else:\n    print('imported', gdfast.IMPLEMENTATION)")
    proc = _python(code, tmp_path)
    assert proc.stdout.startswith("ImportError:"), proc.stdout + proc.stderr
    assert "GDFAST_PURE_PYTHON=1" in proc.stdout and "pip install ." in proc.stdout


def test_public_names_are_exported():
    for name in gdfast.__all__:
        assert hasattr(gdfast, name), name
    import gdfast.reference as reference
    for name in ("forward", "loss", "cost", "gradient", "batch_gd", "sgd", "minibatch_gd"):
        assert name in gdfast.__all__ and name in reference.__all__


@pytest.mark.parametrize("name", ["forward", "loss", "cost", "gradient", "batch_gd", "sgd",
                                  "minibatch_gd"])
def test_compiled_signature_is_a_superset_of_the_reference(name):
    """Drop-in: every reference parameter exists in the compiled function, in the
    same position and with the same default; extras are keyword-only."""
    import inspect

    import gdfast._compiled as compiled
    import gdfast.reference as reference
    ref = inspect.signature(getattr(reference, name)).parameters
    comp = inspect.signature(getattr(compiled, name)).parameters
    assert list(comp)[:len(ref)] == list(ref)
    for pname, p in ref.items():
        assert comp[pname].default == p.default and comp[pname].kind == p.kind
    for pname in list(comp)[len(ref):]:
        assert comp[pname].kind is inspect.Parameter.KEYWORD_ONLY
