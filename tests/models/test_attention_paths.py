"""The explicit (map-keeping) attention path and the fused SDPA path compute the same thing."""

import pytest
import torch

from kdsearch.models.attention import MultiheadAttention
from kdsearch.models.encoder import TransformerEncoder
from kdsearch.models.masks import attention_mask


@pytest.mark.parametrize("t_q,t_k", [(4, 12), (12, 4), (12, 9), (6, 6)])
def test_explicit_and_fused_paths_agree_in_eval(t_q, t_k):
    torch.manual_seed(0)
    encoder = TransformerEncoder(d_model=8, heads=2, layers=2, t_q=t_q, t_k=t_k, attn_dropout=0.3,
                                 relu_dropout=0.3, res_dropout=0.3, embed_dropout=0.3).eval()
    x, source = torch.randn(3, t_q, 8), torch.randn(3, t_k, 8)
    fused = encoder(x, source)
    explicit = encoder(x, source, keep_scores=True, keep_post=True)
    assert fused.scores == [] and fused.post_attention == []
    assert torch.allclose(fused.sequence, explicit.sequence, atol=1e-5)
    assert len(explicit.scores) == 2 and len(explicit.post_attention) == 2
    assert explicit.scores[0].shape == (3, 2, t_q, t_k)
    assert explicit.post_attention[0].shape == (3, t_q, 8)


def test_self_attention_paths_agree_and_are_causal():
    torch.manual_seed(1)
    encoder = TransformerEncoder(d_model=8, heads=2, layers=1, t_q=5).eval()
    x = torch.randn(2, 5, 8)
    explicit = encoder(x, keep_scores=True)
    assert torch.allclose(encoder(x).sequence, explicit.sequence, atol=1e-5)
    scores = explicit.scores[0]
    assert torch.isneginf(scores[..., 0, 1:]).all()  # query 0 sees only key 0
    assert torch.isfinite(scores[..., -1, :]).all()


def test_scores_are_pre_softmax_and_masked_with_minus_inf():
    torch.manual_seed(2)
    attn = MultiheadAttention(8, 2).eval()
    q, kv = torch.randn(1, 4, 8), torch.randn(1, 12, 8)
    mask = attention_mask(4, 12)
    _, scores = attn(q, kv, mask=mask, keep_scores=True)
    d = 8
    wq, wk = attn.in_proj_weight[:d], attn.in_proj_weight[d : 2 * d]
    qh = (q @ wq.T).view(1, 4, 2, 4).transpose(1, 2)
    kh = (kv @ wk.T).view(1, 12, 2, 4).transpose(1, 2)
    expected = (qh @ kh.transpose(-2, -1)) / 2.0  # sqrt(head_dim = 4)
    assert torch.allclose(scores[..., mask], expected[..., mask], atol=1e-5)
    assert torch.isneginf(scores[..., ~mask]).all()


def test_heads_must_divide_width():
    with pytest.raises(ValueError, match="divisible"):
        MultiheadAttention(10, 4)


def test_parameter_layout_and_initialisation():
    attn = MultiheadAttention(8, 2)
    assert attn.in_proj_weight.shape == (24, 8)
    assert torch.count_nonzero(attn.in_proj_bias) == 0 and torch.count_nonzero(attn.out_proj.bias) == 0


def test_attention_dropout_acts_in_training_on_both_paths():
    torch.manual_seed(3)
    attn = MultiheadAttention(8, 2, dropout=0.5).train()
    q, kv = torch.randn(2, 4, 8), torch.randn(2, 12, 8)
    for keep in (False, True):
        torch.manual_seed(4)
        first, _ = attn(q, kv, keep_scores=keep)
        second, _ = attn(q, kv, keep_scores=keep)
        assert not torch.allclose(first, second)
    attn.eval()
    assert torch.allclose(attn(q, kv)[0], attn(q, kv)[0])


def test_keys_and_values_get_their_own_embedding_dropout_draw_in_training():
    # MulT embeds the key/value stream twice, each with its own dropout (docs/methods.md §2.1); in eval
    # (and with no embedding dropout) they are one tensor, projected by one matmul.
    encoder = TransformerEncoder(d_model=8, heads=2, layers=2, t_q=4, t_k=12, embed_dropout=0.5)
    seen = []
    for layer in encoder.layers:
        layer.attn.register_forward_pre_hook(lambda _m, args, kwargs: seen.append((args[1], kwargs["value_source"])),
                                             with_kwargs=True)
    x, source = torch.randn(2, 4, 8), torch.randn(2, 12, 8)
    encoder.train()(x, source)
    assert len(seen) == 2
    for keys, values in seen:
        assert values is not None and keys.shape == values.shape and not torch.equal(keys, values)
    assert torch.equal(seen[0][1], seen[1][1])  # embedded once: every layer sees the same draws
    seen.clear()
    encoder.eval()(x, source)
    assert all(values is None for _, values in seen)


def test_separate_value_stream_matches_the_fused_projection_when_equal():
    attn = MultiheadAttention(8, 2).eval()
    q, kv = torch.randn(2, 4, 8), torch.randn(2, 12, 8)
    assert torch.allclose(attn(q, kv)[0], attn(q, kv, value_source=kv.clone())[0], atol=1e-6)
    assert not torch.allclose(attn(q, kv)[0], attn(q, kv, value_source=kv + 1)[0])


def test_out_projection_is_xavier_initialised_as_in_mult():
    torch.manual_seed(0)
    weight = MultiheadAttention(30, 5).out_proj.weight
    bound = (6 / (30 + 30)) ** 0.5  # xavier_uniform; PyTorch's Linear default would be 1/sqrt(30)
    assert weight.abs().max() <= bound and weight.abs().max() > 0.9 * bound
