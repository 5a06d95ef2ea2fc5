"""`kdsearch teacher import-mult`: a state dict of the original MulT code as a kdsearch teacher file."""

from __future__ import annotations


def teacher_import_mult_command(state_dict: str, out: str, *, heads: int, layers: int, attn_mask: bool,
                                lengths: str | None) -> int:
    """Convert, write `out`, and say in one line what the file holds."""
    from kdsearch.data.importers import parse_lengths
    from kdsearch.models.mult_import import MOSEI_LENGTHS, import_mult

    blob = import_mult(state_dict, out, heads=heads, layers=layers, attn_mask=attn_mask,
                       lengths={**MOSEI_LENGTHS, **(parse_lengths(lengths) or {})})
    cfg = blob["config"]
    unused = blob["unused_mult_keys"]
    print(f"{out}: MulT {cfg['branch']} teacher, d={cfg['d_model']}, {cfg['heads']} heads, {cfg['layers']} "
          f"layers, attn_mask={cfg['attn_mask']}, inputs {blob['dims']}, {blob['n_out']} output(s), "
          f"task {blob['task'] or 'unknown'}"
          + (f"; unused: {len(unused)} keys of mem encoders MulT's partial mode never runs" if unused else ""))
    return 0
