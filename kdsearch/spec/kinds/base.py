"""What an experiment kind is: one entry of the registry that `kind:` in a space names.

A kind says which config sections it has, how its space is checked, what a trial builds and
trains (its objective reports any per-epoch facts beside the validation metrics), whether that
needs a teacher, and how its trained model is saved. The search, the verbs (train, replay,
evaluate, export) and validation all ask the kind; none of them asks "is this DMD?".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import torch

from kdsearch.config import did_you_mean
from kdsearch.errors import SpaceError, short

if TYPE_CHECKING:
    from kdsearch.spec.space import Space

DEFAULT_KIND = "distill"


@dataclass
class Run:
    """What a kind builds for one configuration: the trainer, the two splits, the trained model."""

    trainer: object
    train: object
    valid: object
    model: torch.nn.Module

    def __iter__(self):
        """`trainer, train, valid, model = kind.build_run(...)`."""
        return iter((self.trainer, self.train, self.valid, self.model))


class ExperimentKind:
    """Base class of a kind; subclasses fill in the methods and register with `register_kind`.

    Attributes:
        name: the `kind:` value.
        model_section: the config section describing the trained model (`student`, `model`).
        model_arch: the `arch` its saved model files carry.
        exportable: `kdsearch export` applies (a video-only deployable model).
    """

    name: ClassVar[str] = ""
    model_section: ClassVar[str] = ""
    model_arch: ClassVar[str] = ""
    exportable: ClassVar[bool] = False

    # ------------------------------------------------------------------ the space
    def sections(self, raw: dict, file: str) -> dict:
        """The config sections this kind has (beyond the common ones), with their defaults."""
        raise NotImplementedError

    def is_option(self, path: str) -> bool:
        """A searchable path besides the plain settings (distill options checked by their loss)."""
        return False

    def check(self, space: "Space") -> None:
        """Raise SpaceError (file and key named) for what this kind cannot build or train."""

    def check_searched(self, cfg: dict, space: "Space", path: str) -> None:
        """Check one config built with an end or choice of the searched parameter `path`."""

    def summary(self, config: dict) -> str:
        """A few words for `kdsearch validate`: what the experiment trains."""
        raise NotImplementedError

    def model_title(self, config: dict) -> str:
        """What is trained, for progress lines ('the configuration-5 student')."""
        raise NotImplementedError

    # ------------------------------------------------------------------ a run
    def needs_teacher(self, config: dict, searched=()) -> bool:
        """Whether a run of `config` (or a search over `searched` paths) reads a teacher."""
        return False

    def build_run(self, exp: dict, arrays: dict, teacher_blob: dict, device: torch.device, targets=None) -> Run:
        """The trainer, splits and model of one configuration: the code a trial runs. `targets`:
        the teacher's cached targets, for kinds that read a teacher (None: run it online)."""
        raise NotImplementedError

    def scoring_config(self, exp: dict) -> dict:
        """The config to rebuild a trained model for scoring (no teacher needed)."""
        return exp

    def model_file_config(self, exp: dict) -> dict:
        """The `config` a saved model file of this kind carries."""
        return dict(exp[self.model_section])


KINDS: dict[str, ExperimentKind] = {}


def register_kind(cls: type[ExperimentKind]) -> type[ExperimentKind]:
    """Class decorator: make the kind available under `cls.name`; duplicates are refused."""
    if cls.name in KINDS:
        raise ValueError(f"experiment kind {short(cls.name)} is already registered")
    KINDS[cls.name] = cls()
    return cls


def get_kind(name, *, file: str | None = None) -> ExperimentKind:
    if not isinstance(name, str) or name not in KINDS:
        raise SpaceError(f"must be one of {', '.join(KINDS)}, got {short(name)}" + did_you_mean(str(name), KINDS),
                         file=file, field="kind")
    return KINDS[name]


def kind_of(config: dict) -> ExperimentKind:
    """The kind of a resolved experiment config."""
    return get_kind(config.get("kind", DEFAULT_KIND))
