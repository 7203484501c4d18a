"""Test-wide setup: keep trackpy's and streamtrack's per-frame logging quiet."""
import pytest


@pytest.fixture(autouse=True, scope="session")
def _quiet_logging():
    try:
        import trackpy
        trackpy.quiet()
    except ImportError:
        pass
    import streamtrack
    streamtrack.quiet()
    yield
