"""`kdsearch teacher list`: each cached teacher with its file path, whole even when piped."""

import json
import os
import subprocess
import sys


def test_piped_list_shows_each_teachers_whole_file_path(tmp_path):
    cache = tmp_path / ("a-long-cache-folder-name-" * 4) / "cache"
    folder = cache / "teachers" / "0123456789abcdef"
    folder.mkdir(parents=True)
    (folder / "teacher.pt").write_bytes(b"")
    (folder / "meta.json").write_text(json.dumps({"config": {"branch": "complete", "d_model": 8, "heads": 2,
                                                             "layers": 1}, "task": "classification",
                                                  "val_metrics": {"val_acc7": 0.34}}))
    result = subprocess.run([sys.executable, "-m", "kdsearch", "teacher", "list"], capture_output=True, text=True,
                            env={**os.environ, "KDSEARCH_CACHE": str(cache)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert str(folder / "teacher.pt") in result.stdout  # one piece: not truncated, not folded
    assert "…" not in result.stdout
