"""The `kdsearch bench` command: options in, table on the console, JSON on request."""

from __future__ import annotations

from kdsearch.bench.report import print_results, write_json
from kdsearch.bench.options import BenchOptions
from kdsearch.bench.suite import run_bench


def bench_command(opts: BenchOptions, *, json_path: str | None = None, console=None) -> int:
    """Run the benchmark, print its table and write `json_path` when given.

    Returns:
        The exit code (0).
    """
    if console is None:
        from rich.console import Console

        console = Console()
    with console.status("benchmarking...") as status:
        results = run_bench(opts, progress=lambda message: status.update(f"benchmarking: {message}"))
    print_results(results, console)
    if json_path:
        console.print(f"results written to {write_json(results, json_path)}", highlight=False)
    return 0
