"""MulT's attention-mask rule, built once per (T_q, T_k) and device.

MulT masks with an additive -inf upper triangle whose diagonal offset is 1 + |T_k - T_q|, i.e.
query i may attend to key j iff ``j <= i + |T_k - T_q|`` (docs/methods.md §5). For T_q <= T_k this is
exactly a bottom-right-aligned causal mask; for T_q > T_k it is *not* (the offset uses the
absolute difference), so we keep a plain boolean mask and hand it to fused attention as is.
Row 0 always sees key 0, so no row is ever fully masked (softmax never sees an all -inf row).
"""

from __future__ import annotations

from functools import lru_cache

import torch


def mult_mask_rule(t_q: int, t_k: int) -> torch.Tensor:
    """The (t_q, t_k) bool matrix of MulT's rule, True where attention is allowed (CPU)."""
    if t_q < 1 or t_k < 1:
        raise ValueError(f"attention mask needs positive lengths, got T_q={t_q}, T_k={t_k}")
    # On CPU even inside `with torch.device("meta")` (validation sizes models there): the
    # all-True test in `fresh_mask` needs real values.
    rows = torch.arange(t_q, device="cpu").unsqueeze(1)
    cols = torch.arange(t_k, device="cpu").unsqueeze(0)
    return cols <= rows + abs(t_k - t_q)


def fresh_mask(t_q: int, t_k: int) -> torch.Tensor | None:
    """A new (uncached) CPU copy of the mask, or None when nothing is masked.

    Modules register this as their own buffer: a cached tensor shared by two modules would be
    de-duplicated by `named_buffers()`, and `torch.func.functional_call`/`stack_module_state`
    would then leave the second module without its mask.
    """
    allowed = mult_mask_rule(t_q, t_k)
    # An all-True mask only costs bandwidth and blocks the fastest SDPA kernels: drop it.
    return None if bool(allowed.all()) else allowed


@lru_cache(maxsize=256)
def _cached_mask(t_q: int, t_k: int, device: str) -> torch.Tensor | None:
    allowed = fresh_mask(t_q, t_k)
    return None if allowed is None else allowed.to(device)


def attention_mask(t_q: int, t_k: int, device: torch.device | str = "cpu") -> torch.Tensor | None:
    """MulT's mask for queries of length `t_q` over keys of length `t_k`, cached.

    Args:
        t_q: query length.
        t_k: key/value length.
        device: where the mask lives; one cached copy per device.

    Returns:
        A (t_q, t_k) bool tensor, True where attention is allowed, or None when nothing is
        masked (e.g. T_q - T_k >= T_k - 1). The tensor is shared: never modify it in place.
    """
    return _cached_mask(int(t_q), int(t_k), str(torch.device(device)))
