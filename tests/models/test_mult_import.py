"""Original MulT checkpoints: imported weights reproduce the original model's outputs (eval mode,
left-padded zeros included) to 1e-4, and `predict` runs the imported file."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from kdsearch.data.layout import write_dataset
from kdsearch.errors import UserError
from kdsearch.train.model_files import load_model_file
from kdsearch.models.mult_import import convert_mult_state_dict, import_mult
from p000_mult_reference import ReferenceMulT

DIMS = {"text": 12, "audio": 7, "vision": 8}  # vision width == d: MulT skips that projection
LENGTHS = {"text": 6, "audio": 9, "vision": 11}  # T_q < T_k and T_q > T_k pairs both occur


def inputs(seed=0, batch=3):
    gen = torch.Generator().manual_seed(seed)
    x = [torch.randn(batch, LENGTHS[m], DIMS[m], generator=gen) for m in ("text", "audio", "vision")]
    x[0][0, :2] = 0  # left zero-padding, as MulT's pickles hold it: no positional signal there
    x[1][1, :4] = 0
    x[2][2, :5] = 0
    return x


def reference(only=None, attn_mask=True, n_out=7, seed=0):
    torch.manual_seed(seed)
    return ReferenceMulT(DIMS, d=8, heads=2, layers=2, n_out=n_out, attn_mask=attn_mask, only=only).eval()


@pytest.mark.parametrize("only,branch", [(None, "complete"), ("v", "video"), ("a", "audio"), ("l", "language")])
@pytest.mark.parametrize("attn_mask", [True, False])
def test_imported_teacher_matches_the_original_outputs(only, branch, attn_mask):
    ref = reference(only, attn_mask)
    teacher, config, unused = convert_mult_state_dict(ref.state_dict(), heads=2, attn_mask=attn_mask,
                                                      lengths=LENGTHS)
    assert config["branch"] == branch and config["layers"] == 2 and config["attn_mask"] is attn_mask
    assert bool(unused) == (only is not None)  # partial mode: two mem encoders never run
    x = inputs()
    with torch.no_grad():
        expected, got = ref(*x), teacher(*x).logits
    assert got.shape == expected.shape == (3, 7)
    assert torch.allclose(got, expected, atol=1e-4), (got - expected).abs().max()


def test_parity_holds_on_other_sequence_lengths_than_the_built_ones():
    ref = reference(n_out=1)
    teacher, _, _ = convert_mult_state_dict(ref.state_dict(), heads=2, lengths={"text": 50, "audio": 500,
                                                                              "vision": 500})
    x = inputs(seed=1)
    with torch.no_grad():
        assert torch.allclose(teacher(*x).logits, ref(*x), atol=1e-4)


def test_wrong_layer_count_and_foreign_keys_are_refused():
    state = reference().state_dict()
    with pytest.raises(ValueError, match="--layers 3"):
        convert_mult_state_dict(state, heads=2, layers=3, lengths=LENGTHS)
    with pytest.raises(ValueError, match="unexpected key 'bert.weight'"):
        convert_mult_state_dict({**state, "bert.weight": torch.zeros(1)}, heads=2, lengths=LENGTHS)
    with pytest.raises(ValueError, match="not divisible"):
        convert_mult_state_dict(state, heads=3, lengths=LENGTHS)
    with pytest.raises(ValueError, match="missing out_layer.weight"):
        convert_mult_state_dict({k: v for k, v in state.items() if not k.startswith("out_layer")}, heads=2)


def test_a_pickled_whole_model_gets_a_message_saying_how_to_resave(tmp_path):
    path = tmp_path / "whole.pt"
    torch.save(reference(), path)
    with pytest.raises(UserError, match=r"state_dict\(\)"):
        import_mult(path, tmp_path / "out.pt", heads=2, lengths=LENGTHS)


def kdsearch(*args, cwd):
    return subprocess.run([sys.executable, "-m", "kdsearch", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_cli_import_then_predict_reproduces_the_original_on_a_dataset_file(tmp_path):
    ref = reference(n_out=1)
    torch.save({f"module.{k}": v for k, v in ref.state_dict().items()}, tmp_path / "mult.pt")  # DataParallel
    rng = np.random.default_rng(0)
    splits = {}
    for split, n in {"train": 4, "valid": 3, "test": 5}.items():
        fields = {m: rng.standard_normal((n, LENGTHS[m], DIMS[m])).astype(np.float32) for m in DIMS}
        fields["vision"][::2, :3] = 0.0
        fields["label"] = rng.uniform(-3, 3, n).astype(np.float32)
        fields["id"] = np.array([f"{split}{i}" for i in range(n)], dtype=object)
        splits[split] = fields
    write_dataset(tmp_path / "data.h5", splits, {"source": "test", "aligned": False})
    lengths = ",".join(f"{m}={n}" for m, n in LENGTHS.items())
    imported = kdsearch("teacher", "import-mult", "mult.pt", "--out", "teacher.pt", "--num-heads", "2",
                        "--lengths", lengths, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "complete teacher" in imported.stdout and "task regression" in imported.stdout
    predicted = kdsearch("predict", "teacher.pt", "data.h5", "--split", "test", "--out", "preds.npy", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    assert "mae=" in predicted.stdout  # the file names its task, so metrics are printed
    preds = np.load(tmp_path / "preds.npy")
    with torch.no_grad():
        expected = ref(*(torch.from_numpy(splits["test"][m]) for m in ("text", "audio", "vision"))).numpy()
    assert preds.shape == (5, 1) and np.allclose(preds, expected, atol=1e-4)
    model, blob = load_model_file(tmp_path / "teacher.pt")
    assert blob["arch"] == "mult" and blob["config"]["heads"] == 2 and not model.training


def test_cli_flags_reach_the_imported_teacher(tmp_path):
    ref = reference(only="v", attn_mask=False)
    torch.save(ref.state_dict(), tmp_path / "vonly.pt")
    ok = kdsearch("teacher", "import-mult", "vonly.pt", "--out", "v.pt", "--num-heads", "2", "--layers", "2",
                  "--no-attn-mask", "--lengths", "text=6,audio=9,vision=11", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "video teacher" in ok.stdout and "unused" in ok.stdout
    model, blob = load_model_file(tmp_path / "v.pt")
    assert blob["config"]["attn_mask"] is False and blob["lengths"] == LENGTHS and blob["task"] == "classification"
    x = inputs()
    with torch.no_grad():
        assert torch.allclose(model(*x).logits, ref(*x), atol=1e-4)
    wrong = kdsearch("teacher", "import-mult", "vonly.pt", "--out", "w.pt", "--num-heads", "2", "--layers", "4",
                     cwd=tmp_path)
    assert wrong.returncode == 2 and "--layers 4" in wrong.stderr and not (tmp_path / "w.pt").exists()


def test_cli_errors_exit_2_with_one_line(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    result = kdsearch("teacher", "import-mult", "junk.pt", "--out", "t.pt", cwd=tmp_path)
    assert result.returncode == 2 and "junk.pt" in result.stderr and "Traceback" not in result.stderr
    result = kdsearch("predict", "missing.pt", "data.h5", "--out", "p.npy", cwd=tmp_path)
    assert result.returncode == 2 and "no such model file" in result.stderr
