"""Running sums of one attention map's statistics over batches, so no map is held in memory.

One `MapStats` is one (pair, layer) of one model. Row statistics are averaged over every
non-forced row of every sample seen (see `stats`), on the head-averaged map (what MulT's
attention returns and what EDAM distils by default) and, optionally, on each head.
"""

from __future__ import annotations

import math

import torch

from kdsearch.diagnose import stats

# Row statistics summed per map; their means are what the table shows.
ROW_FIELDS = ("entropy", "normalised_entropy", "kl_uniform", "top_k_mass", "top_k_uniform")
EVENT_FIELDS = ("event_mass", "event_uniform", "near_event_mass", "near_event_uniform")


def row_statistics(p: torch.Tensor, allowed: torch.Tensor | None, top_k: int,
                   events: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """Per-row statistics of maps p (B, [H,] T_q, T_k), each of shape (B, [H,] T_q)."""
    # Entropy and counts once, reused: the row entropy dominates the cost of a diagnosis.
    n = stats.allowed_count(p, allowed)
    entropy = stats.row_entropy(p)
    out = {
        "entropy": entropy,
        "normalised_entropy": stats.entropy_ratio(entropy, n),
        "kl_uniform": stats.kl_from_entropy(entropy, n),
        "top_k_mass": stats.top_k_mass(p, top_k),
        "top_k_uniform": torch.clamp(min(top_k, p.shape[-1]) / n, max=1.0),
    }
    if events is not None:
        out["event_mass"] = stats.event_mass(p, events)
        out["event_uniform"] = stats.event_uniform_share(p, events, allowed)
        near = stats.near_event_indicator(events, p.shape[-1])  # events ±1 step (kernel-3 convs)
        out["near_event_mass"] = stats.marked_mass(p, near)
        out["near_event_uniform"] = stats.marked_uniform_share(p, near, allowed)
    return out


class MapStats:
    """Accumulates the statistics of one attention map (one pair, one layer) over samples.

    Args:
        pair: encoder name ("V<-A", "mem_V", ...).
        layer: layer index, 0-based.
        top_k: k of the top-k mass.
        per_head: also keep each head's statistics and mean map.
    """

    def __init__(self, pair: str, layer: int, *, top_k: int, per_head: bool = False):
        self.pair, self.layer, self.top_k, self.per_head = pair, layer, top_k, per_head
        self.samples = 0
        self.rows_per_sample = 0
        self.has_events = False
        self.sums: dict[str, float] = {}
        self.head_sums: dict[str, torch.Tensor] = {}
        self.map_sum: torch.Tensor | None = None  # (T_q, T_k), head-averaged
        self.head_map_sum: torch.Tensor | None = None  # (H, T_q, T_k)
        self.allowed: torch.Tensor | None = None

    def update(self, probs: torch.Tensor, allowed: torch.Tensor | None, events: torch.Tensor | None) -> None:
        """Add a batch of per-head probability maps (B, H, T_q, T_k) of this pair and layer.

        Args:
            probs: softmax of the pre-softmax scores at temperature 1.
            allowed: (T_q, T_k) bool, True where attention is allowed, or None.
            events: (B, E) event steps in this map's key coordinates, or None.
        """
        batch, heads, t_q, t_k = probs.shape
        if allowed is None:
            allowed = torch.ones(t_q, t_k, dtype=torch.bool, device=probs.device)
        keep = ~stats.forced_rows(probs[0, 0], allowed)  # (T_q,), same for every sample and head
        mean_map = probs.mean(dim=1)
        self._add(self.sums, row_statistics(mean_map, allowed, self.top_k, events), keep, per_head=False)
        if self.per_head:
            self._add(self.head_sums, row_statistics(probs, allowed, self.top_k, events), keep, per_head=True)
            head_maps = probs.sum(dim=0).double().cpu()
            self.head_map_sum = head_maps if self.head_map_sum is None else self.head_map_sum + head_maps
        summed = mean_map.sum(dim=0).double().cpu()
        self.map_sum = summed if self.map_sum is None else self.map_sum + summed
        self.allowed = allowed.cpu()
        self.samples += batch
        self.rows_per_sample = int(keep.sum())
        self.has_events = events is not None

    @staticmethod
    def _add(target: dict, per_row: dict[str, torch.Tensor], keep: torch.Tensor, *, per_head: bool) -> None:
        for name, values in per_row.items():
            # values: (B, T_q) or (B, H, T_q); forced rows are dropped before summing.
            kept = values[..., keep].double()
            total = kept.sum(dim=(0, 2)).cpu() if per_head else float(kept.sum())
            target[name] = target.get(name, 0.0) + total

    @property
    def shape(self) -> tuple[int, int]:
        """(T_q, T_k)."""
        return tuple(self.map_sum.shape) if self.map_sum is not None else (0, 0)

    def mean_map(self) -> torch.Tensor:
        """(T_q, T_k) head-averaged map, averaged over the samples seen."""
        return self.map_sum / max(self.samples, 1)

    def head_mean_maps(self) -> torch.Tensor | None:
        """(H, T_q, T_k) per-head maps averaged over samples, or None without `per_head`."""
        return None if self.head_map_sum is None else self.head_map_sum / max(self.samples, 1)

    def summary(self) -> dict:
        """Plain-Python summary: means of the row statistics, the profile and its peaks."""
        rows = self.samples * self.rows_per_sample
        means = {name: (value / rows if rows else math.nan) for name, value in self.sums.items()}
        result = {
            "pair": self.pair, "layer": self.layer, "t_q": self.shape[0], "t_k": self.shape[1],
            "samples": self.samples, "rows_counted": self.rows_per_sample, "top_k": self.top_k,
            **means, "concentration": 1.0 - means.get("normalised_entropy", math.nan),
        }
        if self.has_events:
            for kind in ("event", "near_event"):
                uniform = means[f"{kind}_uniform"]
                result[f"{kind}_lift"] = means[f"{kind}_mass"] / uniform if uniform > 0 else math.nan
        profile = stats.mass_profile(self.mean_map()) if self.samples else torch.zeros(0)
        lift = (profile / stats.uniform_profile(self.allowed, *self.shape)).tolist() if self.samples else []
        result["profile"] = [round(v, 5) for v in profile.tolist()]
        result["profile_lift"] = [round(v, 4) for v in lift]  # mass / uniform attention's, per key step
        # Peaks relative to uniform: under a causal-like mask the raw profile always peaks at step 0.
        result["peak_steps"] = sorted(range(len(lift)), key=lambda k: -lift[k])[:3]
        if self.per_head and self.head_sums:
            result["per_head"] = self._head_summaries(rows)
        return result

    def _head_summaries(self, rows: int) -> list[dict]:
        heads = len(self.head_sums["entropy"])
        out = []
        for h in range(heads):
            means = {name: float(v[h]) / rows if rows else math.nan for name, v in self.head_sums.items()}
            means["concentration"] = 1.0 - means["normalised_entropy"]
            for kind in ("event", "near_event") if self.has_events else ():
                if means[f"{kind}_uniform"] > 0:
                    means[f"{kind}_lift"] = means[f"{kind}_mass"] / means[f"{kind}_uniform"]
            out.append({"head": h, **means})
        return out
