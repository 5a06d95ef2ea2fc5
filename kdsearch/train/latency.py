"""Batch-1 inference time of a trained model: an objective a search can trade accuracy against."""

from __future__ import annotations

import time

import torch


def inference_latency_ms(student: torch.nn.Module, split, repeats: int = 10) -> float:
    """Median batch-1 inference time of the trained model on this trial's device (an objective
    for multi-objective searches: accuracy against latency)."""
    from kdsearch.train.objectives import run_model

    batch = split.batch(torch.zeros(1, dtype=torch.long, device=split.label.device))
    sample = batch["vision"]
    was_training = student.training
    student.eval()
    times = []
    with torch.no_grad():
        for i in range(repeats + 2):
            if sample.is_cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            run_model(student, batch)  # video alone for a student, all modalities for DMD
            if sample.is_cuda:
                torch.cuda.synchronize()
            if i >= 2:  # the first calls warm caches up
                times.append(time.perf_counter() - start)
    student.train(was_training)
    return round(1000 * sorted(times)[len(times) // 2], 3)
