"""The DMD network: shapes of every intermediate, the ModelOutput contract, parameter counts."""

import pytest
import torch

from kdsearch.models.build import count_parameters
from kdsearch.models.dmd import DMD

from dmd_fixtures import DIMS, LENGTHS, TINY

PAIRS = ("A<-L", "V<-L", "L<-A", "V<-A", "L<-V", "A<-V", "mem_L", "mem_A", "mem_V")


def inputs(batch):
    return batch["text"], batch["audio"], batch["vision"]


@pytest.mark.parametrize("n_out", [1, 7])
def test_every_intermediate_has_the_documented_shape(n_out, batch):
    model = DMD(dims=DIMS, lengths=LENGTHS, n_out=n_out, **TINY)
    out = model.forward_all(*inputs(batch))
    lengths = {"L": 6, "A": 10, "V": 10}
    assert out.logits.shape == (6, n_out) and out.penultimate.shape == (6, 9 * 8)
    for m, t in lengths.items():
        for part in (out.decoupled.origin, out.decoupled.com, out.decoupled.prt, out.recon, out.cycle):
            assert part[m].shape == (6, t, 8)
        assert out.margin_features[m].shape == (6, 8)
        assert out.homo_logits[m].shape == out.hetero_logits[m].shape == (6, n_out)
        assert out.homo_repr[m].shape == (6, 8) and out.hetero_repr[m].shape == (6, 16)
    assert out.common_logits.shape == (6, n_out)


def test_model_output_contract_with_maps_by_pair_name(batch):
    model = DMD(dims=DIMS, lengths=LENGTHS, n_out=1, **TINY).eval()
    assert model.pair_names == PAIRS
    assert model.map_shape("V<-A") == (10, 10) and model.map_shape("V<-L") == (6, 10)
    out = model(*inputs(batch), maps_for=frozenset({"V<-L", "mem_V"}), post_attention_for=frozenset({"A<-V"}))
    assert set(out.attn_scores) == {"V<-L", "mem_V"} and set(out.post_attention) == {"A<-V"}
    assert out.attn_scores["V<-L"][0].shape == (6, 2, 6, 10)  # (B, H, T_q, T_k): q = L (6), kv = V (10)
    assert out.features["final"] is out.logits and out.features["penultimate"].shape == (6, 72)
    assert torch.allclose(out.logits, model(*inputs(batch)).logits, atol=1e-5)  # maps change nothing


def test_valid_padding_shortens_the_sequences_as_the_code_does(batch):
    model = DMD(dims=DIMS, lengths=LENGTHS, n_out=1, conv_padding="valid", conv_kernel_text=3,
                conv_kernel_audio=1, conv_kernel_vision=5, **TINY)
    assert model.lengths == {"L": 4, "A": 10, "V": 6}
    out = model.forward_all(*inputs(batch))
    assert out.decoupled.com["V"].shape == (6, 6, 8) and model.map_shape("A<-V") == (6, 10)


@pytest.mark.parametrize("fusion", ["paper", "code"])
def test_both_fusions_run_and_differ(fusion, batch):
    torch.manual_seed(0)
    model = DMD(dims=DIMS, lengths=LENGTHS, n_out=1, fusion=fusion, **TINY).eval()
    logits = model(*inputs(batch)).logits
    torch.manual_seed(0)
    other = DMD(dims=DIMS, lengths=LENGTHS, n_out=1, fusion="code" if fusion == "paper" else "paper", **TINY).eval()
    assert torch.isfinite(logits).all() and not torch.allclose(logits, other(*inputs(batch)).logits)


def test_parameter_count_matches_the_code_at_mosei_aligned_settings():
    # docs/methods.md §6.5: 1,792,778 for the code's model (BERT text width 768, valid padding, d30,
    # 6 heads, 4 layers, kernels L5/A1/V3). We leave out proj_cosine_m (never used in a loss):
    # 3 Linear(T'·d -> d) = 41,430 + 45,030 + 43,230 = 129,690.
    model = DMD(dims={"text": 768, "audio": 74, "vision": 35}, lengths={"text": 50, "audio": 50, "vision": 50},
                n_out=1, conv_padding="valid")
    assert count_parameters(model) == 1_792_778 - 129_690
