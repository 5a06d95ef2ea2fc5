"""`kdsearch bench`: training-step, inference, memory and search throughput measurements.

Everything is timed in one process on whatever device is present, so a claim such as
"N times faster than the naive MulT code" is a measured side-by-side ratio, never a comparison
of numbers taken on different days.
"""

from kdsearch.bench.command import bench_command
from kdsearch.bench.options import BenchOptions
from kdsearch.bench.suite import run_bench

__all__ = ["BenchOptions", "bench_command", "run_bench"]
