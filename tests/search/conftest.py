import pytest
import yaml

from kdsearch.search.space import resolve_space_path


@pytest.fixture
def tiny_space_file(tmp_path):
    """The bundled smoke space, shrunk further: 6 trials of up to 3 epochs."""
    raw = yaml.safe_load(resolve_space_path("smoke").read_text())
    raw["search"]["num_samples"] = 6
    raw["search"]["max_concurrent"] = 2
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path
