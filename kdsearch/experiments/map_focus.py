"""How much attention a few maps put on the planted event steps, exactly and within ±1 step.

`kdsearch diagnose` counts the mass on the exact event steps. With paper 000's kernel-3 'same'
input convs, the projected step before an event already holds the event (through the conv's right
tap), and trained maps often peak there: on the synthetic default, teachers with kernel 3 put most
of their extra mass on step e-1, not on e (0.6 of mem_A's mass on e-1, 0.03 on e). The window
measure counts {e-1, e, e+1}, so a map that found the events one step early is not reported blind.
"""

from __future__ import annotations

import numpy as np
import torch
from kdsearch.data.schema import MODALITIES

EVENT_FIELDS = {"A": "audio_events", "V": "vision_events"}


def key_letter(pair: str) -> str:
    """Stream the keys of `pair` come from ("A" for "A<-L" and for "mem_A")."""
    return pair[-1] if pair.startswith("mem_") else pair.partition("<-")[0]


def event_sets(events: np.ndarray, t_k: int, radius: int) -> torch.Tensor:
    """(N, t_k) bool: key steps within `radius` of any event of each sample."""
    n = events.shape[0]
    hit = np.zeros((n, t_k), dtype=bool)
    rows = np.arange(n)[:, None]
    for offset in range(-radius, radius + 1):
        hit[rows, np.clip(events + offset, 0, t_k - 1)] = True
    return torch.from_numpy(hit)


def _events_for(role: str, pair: str, t_k: int, extras: dict, lengths: dict) -> np.ndarray | None:
    # A student's streams are all projections of the video, so its keys sit at video steps.
    field = "vision_events" if role == "student" and t_k == lengths["vision"] else None
    if role == "teacher":
        field = EVENT_FIELDS.get(key_letter(pair))
    events = extras.get(field) if field else None
    if events is None or events.size == 0 or int(events.max()) >= t_k:
        return None
    return events


def _run(model, role: str, split, start: int, stop: int, pairs: frozenset, device):
    inputs = {m: torch.from_numpy(np.ascontiguousarray(split.modality(m)[start:stop])).float().to(device)
              for m in MODALITIES}
    if role == "teacher":
        return model(**inputs, maps_for=pairs)
    return model(inputs["vision"], maps_for=pairs)


@torch.no_grad()
def map_focus(model, role: str, split, pairs, lengths: dict, device, *, batch_size: int = 128,
              max_samples: int = 400) -> dict[str, dict[str, float]]:
    """Event mass of each map in `pairs` (head-averaged, averaged over layers, rows and samples).

    Args:
        model: a MulT teacher (role "teacher") or a video student (role "student").
        split: a `SplitArrays` with ``audio_events``/``vision_events`` in its extras.
        pairs: map names of this model.
        lengths: the teacher's sequence lengths.
        max_samples: the first N samples are enough for a mean.

    Returns:
        pair -> {"event_mass", "event_uniform", "event_lift", "window_mass", "window_uniform",
        "window_lift"}; maps whose keys carry no known events are left out. "uniform" is the share
        a uniform row over its allowed keys would give, so a lift of 1 means no focus.
    """
    model = model.to(device).eval()
    pairs = frozenset(pairs)
    n = min(split.n, max_samples)
    sums: dict[str, dict[str, float]] = {}
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        out = _run(model, role, split, start, stop, pairs, device)
        for pair in pairs:
            layers = out.attn_scores[pair]
            batch, _, t_q, t_k = layers[0].shape
            events = _events_for(role, pair, t_k, split.extras, lengths)
            if events is None:
                continue
            acc = sums.setdefault(pair, {"rows": 0.0})
            acc["rows"] += batch * t_q
            for name, radius in (("event", 0), ("window", 1)):
                target = event_sets(events[start:stop], t_k, radius).to(device)[:, None, :].float()  # (B, 1, T_k)
                for scores in layers:
                    probs = torch.softmax(scores.float(), dim=-1).mean(dim=1)  # (B, T_q, T_k), heads averaged
                    allowed = torch.isfinite(scores[:, 0]).float()  # masked keys are -inf in every head
                    share = (allowed * target).sum(-1) / allowed.sum(-1).clamp_min(1)
                    acc[f"{name}_mass"] = acc.get(f"{name}_mass", 0.0) + float((probs * target).sum()) / len(layers)
                    acc[f"{name}_uniform"] = acc.get(f"{name}_uniform", 0.0) + float(share.sum()) / len(layers)
    result = {}
    for pair, acc in sums.items():
        rows = acc.pop("rows")
        means = {k: v / rows for k, v in acc.items()}
        for name in ("event", "window"):
            uniform = means[f"{name}_uniform"]
            means[f"{name}_lift"] = means[f"{name}_mass"] / uniform if uniform > 0 else float("nan")
        result[pair] = means
    return result
