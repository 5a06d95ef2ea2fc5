"""Pure statistics of attention probability maps: how concentrated each row is, and where.

Every function takes probability maps ``p`` of shape (..., T_q, T_k) (rows sum to 1 over the
allowed keys, masked keys exactly 0) and an ``allowed`` bool mask broadcastable to ``p``
(True where a key may be attended; None = every key allowed), and returns one value per row,
shape (...,  T_q), unless said otherwise. Entropies are in nats.

Rows whose allowed set holds a single key (row 0 of MulT's mask on a square map) are *forced*:
their attention carries no choice, so their normalised entropy is undefined (NaN here) and the
run excludes them from every row average; counting them would make square maps look more
concentrated than they are.
"""

from __future__ import annotations

import math

import torch


def probabilities(scores: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """softmax(scores / temperature) over keys, in float32; -inf (masked) scores give exactly 0."""
    return torch.softmax(scores.float() / temperature, dim=-1)


def allowed_keys(allowed: torch.Tensor | None, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    """`allowed` broadcast to `shape` (..., T_q, T_k) as a bool tensor (all True when None)."""
    if allowed is None:
        return torch.ones(shape, dtype=torch.bool)
    return allowed.to(torch.bool).expand(shape)


def allowed_count(p: torch.Tensor, allowed: torch.Tensor | None) -> torch.Tensor:
    """Number of allowed keys per row, as float, shape (..., T_q)."""
    if allowed is None:
        return torch.full(p.shape[:-1], float(p.shape[-1]), dtype=p.dtype, device=p.device)
    # Count on the (small) mask, then broadcast: expanding it to the maps' size first is slow.
    return allowed.to(device=p.device, dtype=p.dtype).sum(dim=-1).expand(p.shape[:-1])


def row_entropy(p: torch.Tensor) -> torch.Tensor:
    """H(row) = -sum_k p_k log p_k, with 0 log 0 = 0 (masked keys contribute nothing)."""
    return -torch.special.xlogy(p, p).sum(dim=-1)


def entropy_ratio(entropy: torch.Tensor, n_allowed: torch.Tensor) -> torch.Tensor:
    """H / log(n) from row entropies and allowed-key counts; NaN where n <= 1 (forced rows)."""
    return torch.where(n_allowed > 1, entropy / torch.log(n_allowed).clamp_min(1e-30),
                       torch.full_like(entropy, math.nan))


def normalised_entropy(p: torch.Tensor, allowed: torch.Tensor | None = None) -> torch.Tensor:
    """H / log(n_allowed): 1 for a uniform row over its allowed keys, 0 for a one-hot row.

    Forced rows (n_allowed = 1) are NaN: no choice, nothing to normalise.
    """
    return entropy_ratio(row_entropy(p), allowed_count(p, allowed))


def concentration(p: torch.Tensor, allowed: torch.Tensor | None = None) -> torch.Tensor:
    """1 - H / log(n_allowed): 0 for uniform rows, 1 for one-hot rows, NaN for forced rows."""
    return 1.0 - normalised_entropy(p, allowed)


def kl_from_uniform(p: torch.Tensor, allowed: torch.Tensor | None = None) -> torch.Tensor:
    """KL(row || uniform over the allowed keys) = log(n_allowed) - H(row), in nats (>= 0).

    Unlike `concentration` it grows with the number of keys (log n for a one-hot row), so it
    compares maps of the same size only.
    """
    return kl_from_entropy(row_entropy(p), allowed_count(p, allowed))


def kl_from_entropy(entropy: torch.Tensor, n_allowed: torch.Tensor) -> torch.Tensor:
    """log(n) - H: KL from the uniform row over n allowed keys, from the row's entropy."""
    return torch.log(n_allowed) - entropy


def top_k_mass(p: torch.Tensor, k: int) -> torch.Tensor:
    """Mass on the row's k largest probabilities (k clipped to T_k)."""
    k = max(1, min(int(k), p.shape[-1]))
    return p.topk(k, dim=-1).values.sum(dim=-1)


def mass_profile(p: torch.Tensor) -> torch.Tensor:
    """Where the mass sits over key positions: the mean over rows, shape (..., T_k)."""
    return p.mean(dim=-2)


def uniform_profile(allowed: torch.Tensor | None, t_q: int, t_k: int) -> torch.Tensor:
    """`mass_profile` of maps whose rows are uniform over their allowed keys, shape (T_k,).

    Under MulT's mask early keys are visible to more rows, so even uniform attention puts more
    mass on them; dividing a profile by this one shows where a map looks *more than by chance*.
    """
    ok = allowed_keys(allowed, (t_q, t_k)).double()
    return (ok / ok.sum(dim=-1, keepdim=True)).mean(dim=0)


def event_indicator(events: torch.Tensor, t_k: int) -> torch.Tensor:
    """(B, T_k) float, 1 at each sample's event key positions (events: (B, E) int steps).

    Steps outside [0, T_k) are ignored (a padded or foreign events field never indexes out).
    """
    events = events.long()
    inside = (events >= 0) & (events < t_k)
    marks = torch.zeros(events.shape[0], t_k, dtype=torch.float32, device=events.device)
    marks.scatter_(1, events.clamp(0, t_k - 1), inside.float())
    return marks


def near_event_indicator(events: torch.Tensor, t_k: int, radius: int = 1) -> torch.Tensor:
    """(B, T_k) float, 1 within `radius` steps of each sample's events (the union of windows).

    Why: with a kernel-k input convolution (paper 000 uses k = 3), step e-1 already holds event
    e, and trained maps often peak there; the exact-step mass then reads "uniform" for a map that
    does look at the events.
    """
    marks = event_indicator(events, t_k)
    near = marks.clone()
    for shift in range(1, radius + 1):
        near[:, shift:] = torch.maximum(near[:, shift:], marks[:, :-shift])
        near[:, :-shift] = torch.maximum(near[:, :-shift], marks[:, shift:])
    return near


def marked_mass(p: torch.Tensor, marks: torch.Tensor) -> torch.Tensor:
    """(B, [H,] T_q) mass each row puts on the (B, T_k) marked key positions."""
    return (p @ _marks_column(marks, p)).squeeze(-1)


def marked_uniform_share(p: torch.Tensor, marks: torch.Tensor, allowed: torch.Tensor | None = None) -> torch.Tensor:
    """What `marked_mass` would be for a uniform row over the allowed keys."""
    t_q, t_k = p.shape[-2:]
    ok = torch.ones(t_q, t_k, device=p.device) if allowed is None else allowed.to(p.device)
    ok = ok.to(p.dtype)
    return ((ok @ _marks_column(marks, p)).squeeze(-1) / ok.sum(dim=-1)).expand(p.shape[:-1])


def _marks_column(marks: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """(B, T_k) marks as a (B, 1.., T_k, 1) column, so `p @ column` sums each row's marked mass."""
    return marks.view(marks.shape[0], *([1] * (p.dim() - 3)), marks.shape[1], 1).to(p.dtype)


def event_mass(p: torch.Tensor, events: torch.Tensor) -> torch.Tensor:
    """Mass each row puts on its sample's event key positions.

    Args:
        p: (B, T_q, T_k) or (B, H, T_q, T_k) probability maps.
        events: (B, E) event time steps in key coordinates.

    Returns:
        (B, [H,] T_q) fraction of the row's mass on the events.
    """
    return marked_mass(p, event_indicator(events, p.shape[-1]))


def event_uniform_share(p: torch.Tensor, events: torch.Tensor, allowed: torch.Tensor | None = None) -> torch.Tensor:
    """What `event_mass` would be for a uniform row: allowed events / allowed keys (E/T_k unmasked)."""
    return marked_uniform_share(p, event_indicator(events, p.shape[-1]), allowed)


def forced_rows(p: torch.Tensor, allowed: torch.Tensor | None) -> torch.Tensor:
    """Bool (..., T_q): rows with a single allowed key, left out of row averages."""
    return allowed_count(p, allowed) <= 1
