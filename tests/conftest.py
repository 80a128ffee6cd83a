"""Shared fixtures: every behaviour test runs on both implementations."""

import pytest

import gdfast._compiled as compiled
import gdfast.reference as reference

IMPLEMENTATIONS = {"reference": reference, "compiled": compiled}


@pytest.fixture(params=sorted(IMPLEMENTATIONS), ids=sorted(IMPLEMENTATIONS))
def impl(request):
    """The module under test: gdfast.reference or the compiled front."""
    return IMPLEMENTATIONS[request.param]


def pytest_report_header(config):
    import gdfast
    return [f"gdfast {gdfast.__version__}: implementation={gdfast.IMPLEMENTATION}, "
            f"imported from {gdfast.__file__}"]
