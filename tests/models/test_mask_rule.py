"""MulT's mask rule (query i sees key j iff j <= i + |T_k - T_q|), checked against docs/methods.md §5."""

import pytest
import torch

from kdsearch.models import MulTTeacher, VideoStudent
from kdsearch.models.encoder import TransformerEncoder
from kdsearch.models.masks import attention_mask, mult_mask_rule
from kdsearch.models.options import InvalidOption


def test_equal_lengths_is_standard_causal():
    assert torch.equal(mult_mask_rule(5, 5), torch.ones(5, 5, dtype=torch.bool).tril())


def test_language_queries_over_video_keys():
    mask = attention_mask(50, 500)
    assert mask.shape == (50, 500)
    assert int(mask[0].sum()) == 451
    assert int(mask[49].sum()) == 500


def test_audio_queries_over_language_keys_mask_nothing():
    assert bool(mult_mask_rule(500, 50).all())
    assert attention_mask(500, 50) is None  # nothing to mask: fused attention runs unmasked


def test_video_queries_over_audio_keys():
    mask = attention_mask(500, 375)
    assert int(mask[0].sum()) == 126
    assert int(mask[-1].sum()) == 375


def test_every_row_sees_at_least_key_zero():
    for t_q, t_k in [(3, 9), (9, 3), (7, 7), (1, 1)]:
        assert bool(mult_mask_rule(t_q, t_k)[:, 0].all())


def test_masks_are_built_once_and_cached():
    assert attention_mask(50, 500) is attention_mask(50, 500)


def test_encoder_keeps_its_mask_as_a_buffer_and_reuses_it():
    encoder = TransformerEncoder(d_model=8, heads=2, layers=1, t_q=4, t_k=12)
    assert "mask" in dict(encoder.named_buffers())
    assert "mask" not in encoder.state_dict()  # not persisted: rebuilt from the rule
    assert encoder.mask_for(4, 12, torch.device("cpu")) is encoder.mask
    # Unexpected lengths fall back to the shared cache instead of failing.
    assert encoder.mask_for(3, 12, torch.device("cpu")) is attention_mask(3, 12)


def test_attn_mask_false_disables_masking():
    encoder = TransformerEncoder(d_model=8, heads=2, layers=1, t_q=4, t_k=12, attn_mask=False)
    assert encoder.mask_for(4, 12, torch.device("cpu")) is None


def test_attn_mask_must_be_a_flag_in_every_model():
    # YAML's quoted "no" is a truthy string: it must be refused, not run with the mask on.
    dims, lengths = {"text": 6, "audio": 4, "vision": 5}, {"text": 3, "audio": 6, "vision": 6}
    with pytest.raises(InvalidOption, match="attn_mask: must be true or false, got 'no'"):
        MulTTeacher(dims=dims, lengths=lengths, n_out=7, d_model=8, heads=2, layers=1, attn_mask="no")
    with pytest.raises(InvalidOption, match="attn_mask: must be true or false, got 1"):
        VideoStudent(vision_dim=5, lengths=lengths, n_out=7, d_model=8, heads=2, layers=1, attn_mask=1)
