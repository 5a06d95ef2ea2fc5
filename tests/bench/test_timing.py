"""Timing helpers: the statistics, warm-up, repetition and interleaving."""

import time

import pytest

from kdsearch.bench.timing import Timing, cpu_ratio, interleaved, ratio, summarize, time_fn


def test_summarize_median_iqr_min():
    timing = summarize([0.004, 0.001, 0.003, 0.002, 0.100])  # one outlier
    assert timing.median_ms == pytest.approx(3.0)
    assert timing.min_ms == pytest.approx(1.0)
    assert timing.iqr_ms == pytest.approx(2.0)  # 4 ms - 2 ms: the outlier does not move it
    assert timing.reps == 5


def test_summarize_few_samples_and_empty():
    assert summarize([0.002]).iqr_ms == 0.0
    assert summarize([0.001, 0.003]).median_ms == pytest.approx(2.0)
    with pytest.raises(ValueError):
        summarize([])


def test_time_fn_warms_up_then_times_reps():
    calls = []
    timing = time_fn(lambda: calls.append(1) or time.sleep(0.002), "cpu", warmup=2, reps=4)
    assert len(calls) == 6
    assert timing.reps == 4 and timing.median_ms >= 2.0


def test_time_fn_stops_at_the_time_budget():
    timing = time_fn(lambda: time.sleep(0.02), "cpu", warmup=0, reps=50, max_seconds=0.05)
    assert 1 <= timing.reps <= 4


def test_interleaved_alternates_and_times_each():
    order = []
    result = interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b") or time.sleep(0.003)},
                         "cpu", warmup=1, reps=3)
    assert order == ["a", "b"] + ["a", "b"] * 3
    assert result["a"].reps == result["b"].reps == 3
    assert result["b"].median_ms > result["a"].median_ms


def test_ratio_is_slow_over_fast():
    assert ratio(Timing(30.0, 1.0, 29.0, 5), Timing(10.0, 1.0, 9.0, 5)) == pytest.approx(3.0)
    assert cpu_ratio(Timing(30.0, 1.0, 29.0, 5, 20.0), Timing(10.0, 1.0, 9.0, 5, 5.0)) == pytest.approx(4.0)
    assert cpu_ratio(Timing(30.0, 1.0, 29.0, 5), Timing(10.0, 1.0, 9.0, 5, 5.0)) is None


def _spin(cpu_seconds):
    end = time.process_time() + cpu_seconds  # by CPU time: a busy machine cannot shorten it
    while time.process_time() < end:
        pass


def test_cpu_time_counts_work_not_waiting():
    busy = time_fn(lambda: _spin(0.02), "cpu", warmup=0, reps=3)
    idle = time_fn(lambda: time.sleep(0.02), "cpu", warmup=0, reps=3)
    assert busy.cpu_median_ms >= 20.0  # spinning uses the CPU
    assert idle.cpu_median_ms < 10.0 < idle.median_ms  # sleeping takes wall time only
