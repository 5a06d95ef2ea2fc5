"""The first line of `kdsearch run` says when the space file is a bundled one, not the user's."""

from kdsearch.search.driver import _bundled
from kdsearch.spec.space import BUNDLED_DIR


def test_a_bundled_space_is_marked_unless_it_lives_in_this_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _bundled(str(BUNDLED_DIR / "smoke.yaml")) == " (bundled with kdsearch)"
    (tmp_path / "smoke.yaml").write_text("name: smoke\n")
    assert _bundled(str(tmp_path / "smoke.yaml")) == ""
    monkeypatch.chdir(BUNDLED_DIR.parent)  # a checkout running its own search_spaces/
    assert _bundled(str(BUNDLED_DIR / "smoke.yaml")) == ""
