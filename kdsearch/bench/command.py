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


def search_compare_command(space: str, *, num_samples: int | None = None, cpus: int | None = None,
                           json_path: str | None = None, console=None, packed: int | None = None) -> int:
    """`kdsearch bench --search SPACE [--packed K]`: generic vs fast (vs packed) search, side by side
    (`fast_vs_generic`)."""
    from kdsearch.bench.fast_vs_generic import compare_searches, print_comparison

    if console is None:
        from rich.console import Console

        console = Console()
    if num_samples is not None and num_samples < 1:
        from kdsearch.errors import UserError

        raise UserError(f"must be an integer >= 1, got {num_samples}", field="--num-samples")
    if packed is not None and packed < 2:
        from kdsearch.errors import UserError

        raise UserError(f"must be an integer >= 2 (students per worker), got {packed}", field="--packed")
    ways = "generic vs fast vs packed" if packed else "generic vs fast"
    with console.status(f"benchmarking: {ways} search of {space}..."):
        result = compare_searches(space, num_samples=num_samples, cpus=cpus, packed=packed)
    print_comparison(result, console)
    if json_path:
        console.print(f"results written to {write_json(result, json_path)}", highlight=False)
    return 0
