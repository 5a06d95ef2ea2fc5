"""`kdsearch cluster check FILE...`: one line per file, exit code 0 or 2."""

from __future__ import annotations

import subprocess
import sys

from kdsearch.cli import main
from kdsearch.cluster import cluster_check_command
from kdsearch.errors import EXIT_USER_ERROR

from cluster_paths import AWS, KUBERAY


def test_all_good_files_exit_zero(capsys):
    assert cluster_check_command([str(AWS), str(KUBERAY)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{AWS}: OK (Ray launcher config") and out[1].startswith(f"{KUBERAY}: OK (KubeRay")


def test_one_bad_file_exits_two_but_every_file_is_checked(variant, capsys):
    bad = variant(AWS, "resources: {CPU: 8, GPU: 1}", "resources: {CPU: 8, GPU: 0.5}")
    assert cluster_check_command([bad, str(KUBERAY)]) == EXIT_USER_ERROR
    captured = capsys.readouterr()
    assert f"{bad}: available_node_types.gpu1_ondemand.resources.GPU: 0.5 is not of type 'integer'" in captured.err
    assert f"{KUBERAY}: OK" in captured.out


def test_cli_entry_point(variant, capsys):
    assert main(["cluster", "check", str(KUBERAY)]) == 0
    bad = variant(KUBERAY, "      replicas: 0\n", "      replicas: 9\n")
    assert main(["cluster", "check", bad]) == EXIT_USER_ERROR
    assert "replicas: 9 is outside" in capsys.readouterr().err


def test_module_command_in_a_fresh_process(variant):
    bad = variant(AWS, "\nupscaling_speed:", "\nupscalng_speed:")
    run = subprocess.run(
        [sys.executable, "-m", "kdsearch", "cluster", "check", str(AWS), bad],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == EXIT_USER_ERROR
    assert f"{AWS}: OK" in run.stdout
    assert f"{bad}: upscalng_speed: Additional properties are not allowed" in run.stderr
    assert "Traceback" not in run.stderr
