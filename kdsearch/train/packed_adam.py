"""torch.optim.Adam's update over stacked students (kdsearch.train.packing), each with its own
learning rate, weight decay, gradient clipping (its norm over its own slice) and step count:
students that joined a pack at different times have different bias corrections."""

from __future__ import annotations

import torch

BETAS, EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults, as `Trainer` uses them


@torch.no_grad()
def packed_adam_step(params: dict, moments: dict, grads: dict, *, steps: list[int], lr: torch.Tensor,
                     weight_decay: torch.Tensor, clip: torch.Tensor) -> None:
    """One update of every stacked tensor in `grads` (each (K, ...)); `steps` counts this one."""
    if bool((clip > 0).any()):
        norm = torch.stack([g.flatten(1).pow(2).sum(1) for g in grads.values()]).sum(0).sqrt()
        coef = torch.where(clip > 0, (clip / (norm + 1e-6)).clamp(max=1.0), torch.ones_like(clip))
        grads = {name: g * per_member(coef, g) for name, g in grads.items()}
    b1, b2 = BETAS
    count = torch.tensor(steps, dtype=torch.float64, device=lr.device)
    bc1, bc2 = (1 - b1 ** count).to(lr.dtype), (1 - b2 ** count).sqrt().to(lr.dtype)
    for name, g in grads.items():
        p, (m, v) = params[name], moments[name]
        g = g + per_member(weight_decay, g) * p
        m.lerp_(g, 1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = (v.sqrt() / per_member(bc2, v)).add_(EPS)
        p.sub_(per_member(lr / bc1, p) * m / denom)


def per_member(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(K,) -> (K, 1, ..., 1), broadcastable against a stacked tensor like `like`."""
    return values.to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))
