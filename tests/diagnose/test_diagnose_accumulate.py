"""Running sums over batches equal the statistics of all maps at once; forced rows are left out."""

import math

import pytest
import torch

from kdsearch.diagnose import stats
from kdsearch.diagnose.accumulate import MapStats
from kdsearch.diagnose.run import collect_maps, event_steps
from kdsearch.data import load_dataset
from kdsearch.models.masks import mult_mask_rule

from diag_fixtures import LENGTHS


def random_maps(batch, heads, t_q, t_k, allowed, seed):
    scores = torch.randn(batch, heads, t_q, t_k, generator=torch.Generator().manual_seed(seed)) * 3
    return stats.probabilities(scores.masked_fill(~allowed, float("-inf")))


def test_batches_accumulate_to_the_whole_and_skip_forced_rows():
    allowed = mult_mask_rule(6, 6)
    probs = random_maps(10, 2, 6, 6, allowed, seed=1)
    events = torch.randint(0, 6, (10, 2), generator=torch.Generator().manual_seed(2))
    acc = MapStats("V<-A", 0, top_k=2, per_head=True)
    for start in (0, 3, 7):  # uneven batches
        stop = {0: 3, 3: 7, 7: 10}[start]
        acc.update(probs[start:stop], allowed, events[start:stop])
    summary = acc.summary()
    mean = probs.mean(dim=1)
    rows = slice(1, None)  # row 0 of a square MulT mask is forced
    assert summary["samples"] == 10 and summary["rows_counted"] == 5
    assert summary["entropy"] == pytest.approx(stats.row_entropy(mean)[:, rows].mean().item(), rel=1e-5)
    want_conc = stats.concentration(mean, allowed)[:, rows].mean().item()
    assert summary["concentration"] == pytest.approx(want_conc, rel=1e-5)
    assert not math.isnan(summary["concentration"])
    assert summary["event_mass"] == pytest.approx(stats.event_mass(mean, events)[:, rows].mean().item(), rel=1e-5)
    assert summary["event_lift"] == pytest.approx(summary["event_mass"] / summary["event_uniform"])
    assert torch.allclose(acc.mean_map(), mean.mean(dim=0).double(), atol=1e-6)
    head1 = summary["per_head"][1]
    assert head1["concentration"] == pytest.approx(
        stats.concentration(probs[:, 1], allowed)[:, rows].mean().item(), rel=1e-5)
    assert len(summary["profile"]) == 6 and len(summary["peak_steps"]) == 3


def test_uniform_map_summary_is_flat():
    allowed = mult_mask_rule(4, 8)  # T_q < T_k: no forced row
    p = (allowed.float() / allowed.float().sum(-1, keepdim=True)).expand(3, 2, 4, 8)
    acc = MapStats("V<-L", 1, top_k=2)
    acc.update(p, allowed, None)
    s = acc.summary()
    assert s["rows_counted"] == 4
    assert s["normalised_entropy"] == pytest.approx(1.0) and s["concentration"] == pytest.approx(0.0, abs=1e-6)
    assert s["kl_uniform"] == pytest.approx(0.0, abs=1e-6)
    assert s["profile_lift"] == pytest.approx([1.0] * 8)  # uniform rows: exactly the uniform profile
    assert "event_mass" not in s


def test_collect_maps_matches_a_direct_computation(tiny_run):
    split = load_dataset(tiny_run.data, splits=("valid",)).splits["valid"]
    teacher = tiny_run.teacher_model
    got = collect_maps(teacher, "teacher", split, lengths=LENGTHS, batch_size=3)
    assert got.heads == 2
    assert {(m.pair, m.layer) for m in got.maps} == {(p, l) for p in teacher.pair_names for l in range(
        3 if p.startswith("mem_") else 2)}
    tensors = {m: torch.from_numpy(split.modality(m)) for m in ("text", "audio", "vision")}
    with torch.no_grad():
        out = teacher(**tensors, maps_for=frozenset({"V<-A"}))
    mean = stats.probabilities(out.attn_scores["V<-A"][1]).mean(dim=1)
    allowed = out.attn_mask["V<-A"]
    events = torch.from_numpy(split.extras["vision_events"])
    summary = next(m for m in got.maps if (m.pair, m.layer) == ("V<-A", 1)).summary()
    keep = ~stats.forced_rows(mean[0], allowed)
    assert summary["concentration"] == pytest.approx(stats.concentration(mean, allowed)[:, keep].mean().item(),
                                                     rel=1e-4)
    assert summary["event_mass"] == pytest.approx(stats.event_mass(mean, events)[:, keep].mean().item(), rel=1e-4)


def test_events_follow_the_key_stream(tiny_run):
    extras = load_dataset(tiny_run.data, splits=("valid",)).splits["valid"].extras
    assert event_steps("teacher", "V<-L", 8, extras, LENGTHS) is extras["vision_events"]
    assert event_steps("teacher", "A<-V", 8, extras, LENGTHS) is extras["audio_events"]
    assert event_steps("teacher", "mem_A", 8, extras, LENGTHS) is extras["audio_events"]
    assert event_steps("teacher", "L<-A", 4, extras, LENGTHS) is None  # text keys: no events
    assert event_steps("student", "V<-L", 8, extras, LENGTHS) is extras["vision_events"]
    assert event_steps("teacher", "V<-A", 8, {}, LENGTHS) is None  # real data: no events stored
