"""An imported file is what a search reads: `kdsearch validate` accepts a space pointing at it."""

from __future__ import annotations

from pathlib import Path

import yaml

from import_fixtures import mult_object, write_pickle
from kdsearch.data.source import load_for_search

SMOKE = Path(__file__).parents[3] / "search_spaces" / "smoke.yaml"


def test_validate_accepts_a_space_on_an_imported_mult_file(tmp_path, run_cli):
    out = tmp_path / "mosei.h5"
    src = write_pickle(tmp_path / "mosei_senti_data_noalign.pkl", mult_object())
    assert run_cli("data", "import", src, out) == (0, "")
    space = yaml.safe_load(SMOKE.read_text())
    space["data"] = {"path": str(out)}
    space_file = tmp_path / "smoke.yaml"
    space_file.write_text(yaml.safe_dump(space))
    assert run_cli("validate", space_file) == (0, "")
    assert f"{space_file}: OK" in run_cli.out
    data = load_for_search(space["data"])  # what the search driver loads
    assert data.dims == {"text": 6, "audio": 5, "vision": 3} and data.splits["train"].n == 5
