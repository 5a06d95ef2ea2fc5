import pytest


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A private teacher/data cache, so tests never touch ~/.cache and start cold."""
    path = tmp_path / "cache"
    monkeypatch.setenv("KDSEARCH_CACHE", str(path))
    return path
