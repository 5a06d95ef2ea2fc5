"""The bundled smoke space, changed section by section and written where a test wants it.

Importable from every test folder: tests/ is on sys.path because tests/conftest.py lives there.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from kdsearch.spec.space import resolve_space_path


def write_smoke_space(path: Path, **sections: dict) -> Path:
    """Writes search_spaces/smoke.yaml to `path`, each keyword's dict merged into that section
    (e.g. ``search={"num_samples": 6}, train={"epochs": 3}``); returns `path`."""
    raw = yaml.safe_load(resolve_space_path("smoke").read_text())
    for section, changes in sections.items():
        raw.setdefault(section, {}).update(changes)
    Path(path).write_text(yaml.safe_dump(raw))
    return Path(path)
