"""Shared test settings: hypothesis kept small so the suite stays fast on 2 cores."""

import pytest
from hypothesis import HealthCheck, settings

from chainrule import backend

settings.register_profile(
    "chainrule",
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("chainrule")


@pytest.fixture(scope="module")
def bit_select():
    """Every where in the module's ops takes backend.where's bit-select, as large arrays do
    (``pytestmark = pytest.mark.usefixtures("bit_select")``): the tests' arrays are small."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(backend, "SELECT_MIN_SIZE", 0)
        yield
