import pytest

import shared_searches


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A private teacher/data cache, so tests never touch ~/.cache and start cold."""
    path = tmp_path / "cache"
    monkeypatch.setenv("KDSEARCH_CACHE", str(path))
    return path


@pytest.fixture
def warm_cache(tmp_path, monkeypatch, smoke_search):
    """Like cache_dir (the same path), but holding the smoke space's dataset, trained teacher and
    teacher targets (shared_searches.copy_warm_cache): no teacher training in tests about something else."""
    path = shared_searches.copy_warm_cache(smoke_search, tmp_path / "cache")
    monkeypatch.setenv("KDSEARCH_CACHE", str(path))
    return path


@pytest.fixture(scope="session")
def smoke_search(tmp_path_factory) -> shared_searches.SmokeSearch:
    """One finished smoke search for the session, read by several modules (shared_searches.py)."""
    return shared_searches.run_smoke_search(tmp_path_factory.mktemp("smoke-search"))


@pytest.fixture(scope="session")
def two_trial_search(tmp_path_factory, smoke_search):
    """results/two/ of a finished 2-trial search whose trials all completed (shared_searches.py)."""
    return shared_searches.run_two_trial_search(tmp_path_factory.mktemp("two-trial-search"), smoke_search)
