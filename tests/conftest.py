"""Hypothesis profiles and the ``device`` fixture shared by every test file.

HYPOTHESIS_PROFILE=ci runs few examples per property (CI sets it); the
default profile, dev, runs Hypothesis' usual hundred.
"""
import os

import pytest
from hypothesis import HealthCheck, settings

from helpers import DEVICES

settings.register_profile("ci", max_examples=15, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(params=DEVICES, scope="session")
def device(request):
    """'cpu', and 'cuda' where a GPU is present: every op test runs on both."""
    return request.param
