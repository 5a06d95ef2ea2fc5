"""CRD at paper 000's four KD levels. Tian, Krishnan, Isola, "Contrastive Representation
Distillation" (ICLR 2020), https://arxiv.org/abs/1910.10699, as paper 000 §4.3 applies it.

Each distilled tensor pair gets one *unit*: a student embedding head, a teacher embedding head
(Linear(dim_in -> feat_dim) then L2 normalisation, both trained with the student) and a
`ContrastMemory` indexed by training sample. What a unit sees, per level:

  * ``final``: the logits (B, n_out).                                      one unit
  * ``penultimate``: ``features["penultimate"]``, the input of the last linear layer (MulT's
    proj2 output plus its residual).                                         one unit
  * ``post_attention``: per distilled pair and layer, the attention output softmax(QK^T)V after
    out_proj, (B, T_q, d), pooled over the query positions by ``pool``: "mean" (default: keeps
    every position's say at d numbers; a 500 x 30 flatten would need a 15000-wide head per
    layer), "last" (the time step MulT pools), or "flatten".            one unit per (pair, layer)
  * ``attention_maps``: per pair and layer, the attention map softmax(QK^T/sqrt(d_k)) (head
    average, or the heads side by side with ``heads: per_head``), a T_q x T_k grid of rows that
    are each a distribution over the T_k keys. ``map_rows`` says what is contrasted:
      - "row_mean" (default): the map's row mean (the share of attention each key receives), one
        contrast per sample. Cheap: the banks hold one row per sample.
      - "per_row": paper 000 eq. 9 as written: one contrast per map row, row j of the student's
        map against row j of the teacher's, averaged over the rows. The negatives of row j are
        row j of other samples (the K negative samples are drawn once per sample and shared by
        its rows), so the banks hold n_data x T_q rows of feat_dim: fine on small data, about
        8 GB per (pair, layer) at MOSEI size (16,326 x 500 x 128 x 2 banks), which validation
        refuses above `MAX_PER_ROW_BANK_BYTES`. Student and teacher maps need the same number
        of rows (student.align: student_down).                    one unit per (pair, layer)

Negatives (``negatives``): "other_class" draws them from samples of another 7-class label
(RepDistiller's recipe for its classification datasets); "uniform" from any sample. Left unset
it is "other_class" for the classification task and "uniform" for regression (the trial tells
the loss its task through `bind`; a loss never bound to a task uses "uniform").

Layers pair up as in EDAM: student layer i with teacher layer floor(i * L_t / L_s). The loss is
the mean over layers, then over pairs (eq. 7, 9). Student and teacher sides have their own heads,
so their widths, lengths and head counts may differ (no map-size alignment is needed).

Lifecycle: `bind(student=..., teacher=..., n_train=..., labels=...)` builds the heads from the
models' shapes and the banks for the training set, and must run before the optimiser is built (a
search trial does it). A loss that was never bound (unit tests, ad-hoc use) builds heads at its
first forward and sizes its banks from the indices it sees, with a warning: heads created then
are not in an optimiser built earlier.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from kdsearch.distill.base import KD_LEVELS, KDLoss
from kdsearch.distill.crd_inputs import EmbedHead, unit_input
from kdsearch.distill.crd_memory import NEGATIVE_MODES, ContrastMemory
from kdsearch.distill.registry import register_loss
from kdsearch.errors import short
from kdsearch.models.options import InvalidOption, check_choice, check_positive
from kdsearch.models.output import ModelOutput

POOLS = ("mean", "last", "flatten")
HEAD_MODES = ("average", "per_head")
MAP_ROWS = ("row_mean", "per_row")
DEFAULT_NCE_K = 4096  # negatives per anchor at MOSEI size, when the space sets none
MAX_PER_ROW_BANK_BYTES = 4 * 2 ** 30  # both banks of every per-row unit together
_PER_PAIR = ("post_attention", "attention_maps")


def _default_k(n_data: int) -> int:
    """K when the space sets none: `DEFAULT_NCE_K`, lowered to fit a smaller set (anchor excluded)."""
    return min(DEFAULT_NCE_K, n_data - 1)


@register_loss("crd")
class CRDLoss(KDLoss):
    """Contrastive representation distillation (paper 000's CRD rows of Table 1).

    Args:
        pairs: student pair -> teacher pair, used at the post_attention and attention_maps
            levels (the logits and the penultimate vector need no pairing).
        level: "final", "penultimate", "post_attention" or "attention_maps".
        feat_dim: embedding width (RepDistiller: 128).
        nce_k: negatives per anchor; must be below the training-set size. None (default):
            4096, MOSEI's choice for its 16,326 training clips (RepDistiller's 16384 exceeds
            them, docs/methods.md §4.3), lowered to n_train - 1 on a smaller training set (the embedded
            default has 2,000), so `method: crd` runs on any data without a K to pick.
        nce_t: score temperature tau (RepDistiller: 0.07).
        nce_m: bank momentum (RepDistiller: 0.5).
        negatives: "other_class" (negatives from other 7-class labels; needs the training
            labels through `bind`), "uniform", or None (default): other_class for the
            classification task, uniform for regression (module docstring).
        pool: how post-attention outputs are pooled over query positions (see module docstring).
        heads: "average" (MulT's head-averaged maps) or "per_head", at the attention_maps level.
        map_rows: "row_mean" (default) or "per_row" (eq. 9), at the attention_maps level.
        seed: seeds the banks and the negative draws.
    """

    levels = KD_LEVELS

    def __init__(self, pairs: dict[str, str] | None = None, level: str = "final", feat_dim: int = 128,
                 nce_k: int | None = None, nce_t: float = 0.07, nce_m: float = 0.5, negatives: str | None = None,
                 pool: str = "mean", heads: str = "average", map_rows: str = "row_mean", seed: int = 0):
        super().__init__()
        check_choice("level", level, sorted(KD_LEVELS))
        if negatives is not None:
            check_choice("negatives", negatives, NEGATIVE_MODES)
        check_choice("map_rows", map_rows, MAP_ROWS)
        check_choice("pool", pool, POOLS)
        check_choice("heads", heads, HEAD_MODES)
        for option, value in (("feat_dim", feat_dim), ("nce_k", nce_k)):
            if option == "nce_k" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidOption(option, f"must be an integer >= 1, got {short(value)}")
        check_positive("nce_t", nce_t)
        if isinstance(nce_m, bool) or not isinstance(nce_m, (int, float)) or not 0 <= nce_m < 1:
            raise InvalidOption("nce_m", f"must be a momentum in [0, 1), got {short(nce_m)}")
        if level in _PER_PAIR:
            if not isinstance(pairs, dict) or not pairs:
                raise InvalidOption("pairs", f"level {short(level)} needs the student pair -> teacher pair mapping")
        self.pairs = dict(pairs or {})
        self.level, self.feat_dim, self.negatives = level, feat_dim, negatives
        self.nce_k, self.nce_t, self.nce_m = nce_k, float(nce_t), float(nce_m)
        self.pool, self.heads, self.seed = pool, heads, int(seed)
        self.per_row = level == "attention_maps" and map_rows == "per_row"
        self.units = nn.ModuleDict()  # unit name -> ModuleDict(embed_s, embed_t[, memory])
        self.rows: dict[str, int] = {}  # per_row: unit name -> map rows (T_q)
        self.n_train: int | None = None
        self._classes: torch.Tensor | None = None

    # ------------------------------------------------------------------ what the models return
    def student_maps(self) -> frozenset[str]:
        return frozenset(self.pairs) if self.level == "attention_maps" else frozenset()

    def teacher_maps(self) -> frozenset[str]:
        return frozenset(self.pairs.values()) if self.level == "attention_maps" else frozenset()

    def student_post_attention(self) -> frozenset[str]:
        return frozenset(self.pairs) if self.level == "post_attention" else frozenset()

    def teacher_post_attention(self) -> frozenset[str]:
        return frozenset(self.pairs.values()) if self.level == "post_attention" else frozenset()

    # ------------------------------------------------------------------ building
    def bind(self, *, student: nn.Module | None = None, teacher: nn.Module | None = None,
             n_train: int | None = None, labels: torch.Tensor | None = None, task: str | None = None) -> None:
        """Build the heads from the models' shapes and the banks for the training set.

        Args:
            student, teacher: the models this loss will see (their sizes fix the head widths).
            n_train: training-set size (bank rows); `nce_k` must be below it.
            labels: (n_train,) continuous training labels, for ``negatives="other_class"``
                (classes = round(clip(y, -3, 3)) + 3, paper 000's 7 classes).
            task: "classification" or "regression": picks the negatives when they are unset.

        Raises:
            InvalidOption: nce_k >= n_train, a model lacks a distilled pair, per_row maps whose
                row counts differ, or per-row banks too large.
        """
        if self.negatives is None and task is not None:
            self.negatives = "other_class" if task == "classification" else "uniform"
        if student is not None and teacher is not None:
            for name, s_dim, t_dim in self._unit_dims(student, teacher):
                self._add_unit(name, s_dim, t_dim)
        if n_train is not None:
            self.check_train_size(n_train)
            self.n_train = int(n_train)
            if self.nce_k is None:
                self.nce_k = _default_k(self.n_train)
        if labels is not None:
            self._classes = (torch.round(labels.detach().float().clamp(-3.0, 3.0)) + 3).long().cpu()
        if self.n_train is not None:
            for name, unit in self.units.items():
                if "memory" not in unit:
                    unit["memory"] = self._memory(self.n_train, unit["embed_s"].linear.weight.device, name)

    def check_train_size(self, n_train: int) -> None:
        """Raise `InvalidOption` unless K negatives can be drawn from `n_train` samples without
        the anchor (validation calls this with the dataset's size, before any trial starts)."""
        if self.nce_k is not None and self.nce_k >= n_train:
            raise InvalidOption("nce_k", f"{self.nce_k} negatives need a training set larger than K; this one "
                                         f"has {n_train} samples (choose nce_k < {n_train})")
        if n_train < 2:
            raise InvalidOption("nce_k", f"contrastive negatives need at least 2 training samples; this set has "
                                         f"{n_train}")
        bank_bytes = 2 * 4 * self.feat_dim * n_train * sum(self.rows.values())  # two float32 banks per unit
        if bank_bytes > MAX_PER_ROW_BANK_BYTES:
            raise InvalidOption("map_rows", f"'per_row' banks would hold {bank_bytes / 2 ** 30:.1f} GiB ({n_train} "
                                            f"samples x {sum(self.rows.values())} map rows x feat_dim "
                                            f"{self.feat_dim} x 2); use 'row_mean' or a smaller feat_dim")

    def _unit_dims(self, student: nn.Module, teacher: nn.Module):
        if self.level in ("final", "penultimate"):
            outs = [_output_layer(m) for m in (student, teacher)]
            dims = [o.out_features if self.level == "final" else o.in_features for o in outs]
            yield self.level, dims[0], dims[1]
            return
        for s_pair, t_pair in self.pairs.items():
            s_enc, t_enc = _encoder(student, s_pair, "student"), _encoder(teacher, t_pair, "teacher")
            if self.per_row:
                s_rows, t_rows = student.map_shape(s_pair)[0], teacher.map_shape(t_pair)[0]
                if s_rows != t_rows:
                    raise InvalidOption("map_rows", f"'per_row' contrasts row j of the student's map with row j of "
                                                    f"the teacher's, but student {s_pair} has {s_rows} rows and "
                                                    f"teacher {t_pair} {t_rows} (use student.align: student_down)")
            for i in range(len(s_enc.layers)):
                if self.per_row:
                    self.rows[_unit_name(s_pair, i)] = int(student.map_shape(s_pair)[0])
                yield _unit_name(s_pair, i), self._dim(student, s_pair, s_enc), self._dim(teacher, t_pair, t_enc)

    def _dim(self, model: nn.Module, pair: str, enc: nn.Module) -> int:
        t_q, t_k = model.map_shape(pair)
        if self.level == "post_attention":
            return enc.d_model * (t_q if self.pool == "flatten" else 1)
        return t_k * (enc.heads if self.heads == "per_head" else 1)

    def _add_unit(self, name: str, s_dim: int, t_dim: int, device=None) -> None:
        if name in self.units:
            return
        gen = torch.Generator().manual_seed(self.seed * 7919 + len(self.units))
        unit = nn.ModuleDict({"embed_s": EmbedHead(s_dim, self.feat_dim, gen),
                              "embed_t": EmbedHead(t_dim, self.feat_dim, gen)})
        self.units[name] = unit.to(device) if device is not None else unit

    def _memory(self, n_data: int, device, name: str, rows: int = 1) -> ContrastMemory:
        negatives = self.negatives or "uniform"  # unset and never told the task
        if negatives == "other_class" and self._classes is None:
            raise InvalidOption("negatives", "'other_class' needs the training labels: bind(labels=...)")
        classes = None if self._classes is None or negatives == "uniform" else self._classes[:n_data]
        # Unbound (tests, plain Python callers) with no K set: the default, capped by the bank.
        nce_k = self.nce_k if self.nce_k is not None else _default_k(n_data)
        memory = ContrastMemory(n_data, self.feat_dim, nce_k=nce_k, nce_t=self.nce_t, nce_m=self.nce_m,
                                seed=self.seed + list(self.units).index(name), classes=classes,
                                negatives=negatives, rows=self.rows.get(name, rows))
        return memory.to(device)

    # ------------------------------------------------------------------ loss
    def forward(self, student_out: ModelOutput, teacher_out: ModelOutput, batch: dict) -> torch.Tensor:
        index = batch["index"]
        if self.level in ("final", "penultimate"):
            s = student_out.features.get(self.level, student_out.logits)
            t = teacher_out.features.get(self.level, teacher_out.logits).detach()
            return self._unit_loss(self.level, s, t, index)
        per_pair = []
        for s_pair, t_pair in self.pairs.items():
            s_layers = self._layers(student_out, s_pair, "student")
            t_layers = self._layers(teacher_out, t_pair, "teacher")
            per_layer = []
            for i, s in enumerate(s_layers):
                t = t_layers[i * len(t_layers) // len(s_layers)].detach()
                per_layer.append(self._unit_loss(_unit_name(s_pair, i), self._input(s), self._input(t), index))
            per_pair.append(torch.stack(per_layer).mean())
        return torch.stack(per_pair).mean()

    def _layers(self, out: ModelOutput, pair: str, who: str) -> list[torch.Tensor]:
        found = (out.attn_scores if self.level == "attention_maps" else out.post_attention).get(pair)
        if not found:
            what = "maps_for" if self.level == "attention_maps" else "post_attention_for"
            raise KeyError(f"CRD at {self.level}: the {who} output has nothing for pair {short(pair)}; run the {who} "
                           f"with {what} including it")
        return found

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        return unit_input(x, self.level, pool=self.pool, heads=self.heads, per_row=self.per_row)

    def _unit_loss(self, name: str, s: torch.Tensor, t: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        if name not in self.units:
            warnings.warn(f"CRD unit {short(name)} built at its first forward: bind() the loss before building the "
                          f"optimiser, or its embedding heads are not trained", stacklevel=3)
            width = (lambda x: x.shape[-1]) if self.per_row else (lambda x: x.flatten(1).shape[1])
            self._add_unit(name, width(s), width(t), device=s.device)
        unit = self.units[name]
        rows = s.shape[1] if s.dim() == 3 else 1  # per_row: (B, T_q, D), the rows follow each other
        if self.n_train is None:  # never bound to a training set: the bank grows with the indices seen
            needed = int(index.max()) + 1
            if "memory" not in unit:
                unit["memory"] = self._memory(max(needed, 2), s.device, name, rows=rows)
            elif needed > unit["memory"].n_data:
                unit["memory"].grow(needed)
        return unit["memory"](unit["embed_s"](s.flatten(0, -2)), unit["embed_t"](t.flatten(0, -2)), index)


def _unit_name(pair: str, layer: int) -> str:
    return f"{pair}|{layer}"


def _output_layer(model: nn.Module) -> nn.Linear:
    """The last linear layer (its input is ``features["penultimate"]``): MulT-style models keep it in
    ``head``, DMD in its fusion's head."""
    for owner in (getattr(model, "head", None), getattr(getattr(model, "fusion", None), "head", None)):
        if owner is not None and isinstance(getattr(owner, "out_layer", None), nn.Linear):
            return owner.out_layer
    raise InvalidOption("level", f"cannot find the output layer of {type(model).__name__} to size the CRD heads")


def _encoder(model: nn.Module, pair: str, who: str) -> nn.Module:
    encoders = model.body.encoders
    if pair not in encoders:
        raise InvalidOption("pairs", f"the {who} has no transformer {short(pair)}; it has {', '.join(model.pair_names)}")
    return encoders[pair]
