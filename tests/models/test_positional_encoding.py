"""Sinusoidal PE: concatenated sin|cos, positions 1..T, zero frames get the zero embedding."""

import math

import torch

from kdsearch.models.positional import SinusoidalPositions, sinusoid_table


def test_table_layout_matches_the_formula():
    dim, half = 8, 4
    table = sinusoid_table(10, dim)
    assert table.shape == (11, dim)
    assert torch.count_nonzero(table[0]) == 0  # padding row
    pos, k = 3, 2
    omega = math.exp(-k * math.log(10000.0) / (half - 1))
    assert math.isclose(table[pos, k], math.sin(pos * omega), rel_tol=1e-5)
    assert math.isclose(table[pos, half + k], math.cos(pos * omega), rel_tol=1e-5)


def test_odd_width_gets_a_zero_column():
    table = sinusoid_table(5, 7)
    assert table.shape == (6, 7)
    assert torch.count_nonzero(table[:, -1]) == 0


def test_zero_frames_get_zero_pe_and_others_keep_their_position():
    positions = SinusoidalPositions(8, max_len=6)
    x = torch.randn(2, 6, 8)
    x[0, :2] = 0.0  # left padding of the first sample
    pe = positions(x)
    table = sinusoid_table(6, 8)
    assert torch.count_nonzero(pe[0, :2]) == 0
    assert torch.allclose(pe[0, 2:], table[3:7])  # absolute positions 3..6, as MulT's make_positions
    assert torch.allclose(pe[1], table[1:7])


def test_only_the_first_channel_decides_padding():
    positions = SinusoidalPositions(8, max_len=3)
    x = torch.ones(1, 3, 8)
    x[0, 1, 0] = 0.0
    assert torch.count_nonzero(positions(x)[0, 1]) == 0
    assert torch.count_nonzero(positions(x)[0, 0]) > 0


def test_longer_inputs_than_built_fall_back_to_a_cached_table():
    positions = SinusoidalPositions(8, max_len=4)
    pe = positions(torch.ones(1, 9, 8))
    assert torch.allclose(pe[0], sinusoid_table(9, 8)[1:])
