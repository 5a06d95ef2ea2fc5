"""Synthetic datasets where a multimodal teacher beats a video-only student, and attention
distillation has something to transfer (design: docs/methods.md §9).

Per sample, a latent sentiment y (class uniform over -3..3, plus jitter) and `event_count`
"event" time steps at random positions, the same steps in audio and vision:

- text: y along a fixed direction at `text_tokens` random tokens, under a per-sample noise level
  drawn from [text_noise_min, text_noise_max]: the teacher's main, good-but-imperfect source;
- audio: strong spikes (`audio_spike`) along a fixed direction at the events, and y clearly
  (`audio_label`) at the events only: a teacher gains by attending to the spikes, so its maps
  whose keys come from audio concentrate on the events (measured: `kdsearch experiment kd-gain`);
- vision: every frame carries a sentiment value along a fixed direction (`video_snr`): the true y
  at the events, a random decoy y' elsewhere, so frame averages dilute y; event frames also carry
  a fixed signature (`video_cue`), visible enough that a student told where to look (by distilled
  maps) finds most events, while a few hundred labels alone do not teach a student to look there.

Why these defaults (docs/methods.md §9, issue 10): with `audio_label` 1 the teacher read y from
text and never needed the events; with a faint cue (1.0) even a perfectly instructed student could
not find the event frames. Distillation then has nothing to transfer.

All noise is standard normal per feature; each chunk of `_CHUNK` samples draws from its own
seeded stream, so the content depends on the seed and parameters only.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import numpy as np

from kdsearch.data.schema import LABEL_MAX, LABEL_MIN
from kdsearch.data.writer import DatasetWriter
from kdsearch.errors import UserError

# Samples generated at once: bounds memory at MOSEI shapes (~140 MB per chunk) and fixes the
# per-chunk random streams (changing it would change the content of a given seed).
_CHUNK = 512


@dataclass(frozen=True)
class SynthParams:
    """Every knob of the generator (stored in the file as the ``generator`` root attribute)."""

    n_train: int = 2000
    n_valid: int = 400
    n_test: int = 600
    text_len: int = 8
    audio_len: int = 32
    vision_len: int = 32
    text_dim: int = 300
    audio_dim: int = 74
    vision_dim: int = 35
    label_jitter: float = 0.3      # y = class + U(-j, j): round(y) stays the class for j < 0.5
    text_tokens: int = 2           # tokens carrying y
    text_snr: float = 8.0          # amplitude of y/3 along the text direction at those tokens
    text_noise_min: float = 0.6    # per-sample noise std of text, drawn uniformly in [min, max]
    text_noise_max: float = 2.0
    event_count: int = 2           # event time steps per sample (same steps in audio and vision)
    audio_spike: float = 6.0       # spike amplitude at events (noise std is 1 per feature)
    audio_label: float = 6.0       # amplitude of y/3 in audio at events (worth attending to)
    video_snr: float = 5.0         # amplitude of y/3 (events) or y'/3 (decoys) on every frame
    video_cue: float = 3.0         # signature on event frames only (top-2 frames by it: ~80% events)

    def split_sizes(self) -> dict[str, int]:
        return {"train": self.n_train, "valid": self.n_valid, "test": self.n_test}


PRESETS: dict[str, SynthParams] = {
    # CPU default: MOSEI feature dims, short sequences (audio and vision steps aligned).
    "small": SynthParams(),
    # CMU-MOSEI unaligned shapes and split sizes (~6.4 GB), for throughput at real scale. Token,
    # event and SNR settings keep the linear probes of `small` roughly where they are: a
    # mean-pooled view's signal grows like count / sqrt(length), an event average's like sqrt(E).
    "mosei": SynthParams(n_train=16326, n_valid=1871, n_test=4659, text_len=50, audio_len=500,
                         vision_len=500, text_tokens=5, event_count=8, video_snr=2.5),
}


def resolve_params(preset: str = "small", **overrides) -> SynthParams:
    """The parameters of a preset with overrides applied, checked.

    Raises:
        UserError: unknown preset or parameter, or a value that cannot work.
    """
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r} (choose {', '.join(PRESETS)})", field="preset")
    names = {f.name for f in dataclasses.fields(SynthParams)}
    for key in overrides:
        if key not in names:
            raise UserError(f"unknown generator parameter (known: {', '.join(sorted(names))})", field=key)
    params = dataclasses.replace(PRESETS[preset], **overrides)
    for f in dataclasses.fields(params):
        if f.type == "int" and getattr(params, f.name) < (0 if f.name.startswith("n_") else 1):
            raise UserError(f"must be a positive integer, got {getattr(params, f.name)}", field=f.name)
    if params.event_count > min(params.audio_len, params.vision_len):
        raise UserError("more events than audio/vision time steps", field="event_count")
    if params.text_tokens > params.text_len:
        raise UserError("more label tokens than text time steps", field="text_tokens")
    if min(params.vision_dim, params.audio_dim) < 2:
        raise UserError("audio and vision need at least 2 features (two fixed directions)", field="vision_dim")
    return params


def preset_shapes(preset: str = "small", **overrides) -> tuple[dict[str, int], dict[str, int]]:
    """(feature dims, sequence lengths) per modality of a preset, without generating anything."""
    p = resolve_params(preset, **overrides)
    dims = {"text": p.text_dim, "audio": p.audio_dim, "vision": p.vision_dim}
    return dims, {"text": p.text_len, "audio": p.audio_len, "vision": p.vision_len}


def _orthonormal(rng: np.random.Generator, dim: int, count: int) -> list[np.ndarray]:
    """`count` fixed, mutually orthogonal unit directions in R^dim."""
    q, _ = np.linalg.qr(rng.standard_normal((dim, count)))
    return [q[:, i].astype(np.float32) for i in range(count)]


def _directions(seed: int, p: SynthParams) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, 7919])
    (text_y,) = _orthonormal(rng, p.text_dim, 1)
    spike, audio_y = _orthonormal(rng, p.audio_dim, 2)
    video_y, cue = _orthonormal(rng, p.vision_dim, 2)
    return {"text_y": text_y, "audio_spike": spike, "audio_y": audio_y, "video_y": video_y, "cue": cue}


def _labels(rng: np.random.Generator, shape, jitter: float) -> np.ndarray:
    y = rng.integers(-3, 4, size=shape) + rng.uniform(-jitter, jitter, size=shape)
    return np.clip(y, LABEL_MIN, LABEL_MAX).astype(np.float32)


def _random_steps(rng: np.random.Generator, n: int, length: int, count: int) -> np.ndarray:
    """(n, count) distinct sorted time steps per sample."""
    return np.sort(np.argsort(rng.random((n, length)), axis=1)[:, :count], axis=1).astype(np.int32)


def make_chunk(rng: np.random.Generator, n: int, p: SynthParams, dirs: dict[str, np.ndarray]) -> dict:
    """Generate `n` samples: features, labels and the planted event steps."""
    rows = np.arange(n)[:, None]
    y = _labels(rng, n, p.label_jitter)

    noise = rng.uniform(p.text_noise_min, p.text_noise_max, size=(n, 1, 1)).astype(np.float32)
    text = rng.standard_normal((n, p.text_len, p.text_dim), dtype=np.float32) * noise
    tokens = _random_steps(rng, n, p.text_len, p.text_tokens)
    text[rows, tokens] += (p.text_snr * y / 3)[:, None, None] * dirs["text_y"]

    v_events = _random_steps(rng, n, p.vision_len, p.event_count)
    # Audio steps of the same moments (identical when T_a == T_v, as in both presets).
    a_events = (v_events.astype(np.int64) * p.audio_len // p.vision_len).astype(np.int32)
    audio = rng.standard_normal((n, p.audio_len, p.audio_dim), dtype=np.float32)
    audio[rows, a_events] += p.audio_spike * dirs["audio_spike"] + \
        (p.audio_label * y / 3)[:, None, None] * dirs["audio_y"]

    frame_y = _labels(rng, (n, p.vision_len), p.label_jitter)  # decoys: same marginal as y
    frame_y[rows, v_events] = y[:, None]
    vision = rng.standard_normal((n, p.vision_len, p.vision_dim), dtype=np.float32)
    vision += (p.video_snr * frame_y / 3)[:, :, None] * dirs["video_y"]
    vision[rows, v_events] += p.video_cue * dirs["cue"]
    return {"text": text, "audio": audio, "vision": vision, "label": y,
            "audio_events": a_events, "vision_events": v_events}


def generate(out_path: str | os.PathLike, preset: str = "small", seed: int = 0, **overrides) -> str:
    """Write a synthetic dataset, chunk by chunk, atomically; return its fingerprint.

    Args:
        out_path: the HDF5 file to write.
        preset: "small" (CPU default, seconds) or "mosei" (CMU-MOSEI shapes, ~6.4 GB).
        seed: same seed and parameters give the same file content (same fingerprint).
        **overrides: any `SynthParams` field, e.g. ``n_train=100, video_cue=0.5``.
    """
    p = resolve_params(preset, **overrides)
    if not isinstance(seed, int) or seed < 0:
        raise UserError(f"must be a non-negative integer, got {seed!r}", field="seed")
    dirs = _directions(seed, p)
    shapes = {split: {"text": (n, p.text_len, p.text_dim), "audio": (n, p.audio_len, p.audio_dim),
                      "vision": (n, p.vision_len, p.vision_dim),
                      "audio_events": (n, p.event_count), "vision_events": (n, p.event_count)}
              for split, n in p.split_sizes().items()}
    attrs = {"source": f"synthetic:{preset}", "aligned": p.text_len == p.audio_len == p.vision_len,
             "generator": {"preset": preset, "seed": seed, "params": dataclasses.asdict(p)}}
    with DatasetWriter(out_path, attrs=attrs, shapes=shapes) as writer:
        for split_index, (split, n) in enumerate(p.split_sizes().items()):
            for chunk_index, start in enumerate(range(0, n, _CHUNK)):
                rng = np.random.default_rng([seed, split_index, chunk_index])
                chunk = make_chunk(rng, min(_CHUNK, n - start), p, dirs)
                ids = range(start, start + len(chunk["label"]))
                chunk["id"] = np.array([f"synth-{split}-{i:06d}" for i in ids], dtype=object)
                writer.write(split, start, chunk)
    return writer.fingerprint
