"""The body of each `kdsearch` command: turn parsed arguments into one library call.

Each function takes argparse's namespace and returns the exit code; the library does the work.
"""

from __future__ import annotations

import sys


def _console():
    from rich.console import Console

    # Logs and pipes get a wide fixed width instead of rich's 80 columns, so tables stay readable.
    return Console() if sys.stdout.isatty() else Console(width=160)


def _results(arg: str):
    """A results folder, or a bare search name found as results/<name>."""
    from kdsearch.results.folders import results_folder

    return results_folder(arg)


def cmd_run(args) -> int:
    from kdsearch.search.driver import RunOptions, run_search
    from kdsearch.interrupts import Interrupted
    from kdsearch.spec.space import load_space
    from kdsearch.verbs.outcome import print_interrupted, print_outcome

    if args.address:  # an address where nothing listens is refused before anything loads
        from kdsearch.cluster.join import check_reachable

        check_reachable(args.address)
    console = _console()
    space = load_space(args.space)
    opts = RunOptions(gpus=args.gpus, cpus=args.cpus, num_samples=args.num_samples, name=args.name,
                      smoke_test=args.smoke_test, resume=args.resume, address=args.address, storage=args.storage,
                      results_root=args.results_dir, warm_start=args.warm_start,
                      log=args.log)
    try:
        outcome = run_search(space, opts, console)
    except Interrupted as exc:
        print_interrupted(exc, resume_line(args, exc.context.get("name")))
        return exc.exit_code
    print_outcome(outcome, console)
    return 0


def resume_line(args, name: str | None) -> str:
    """The `kdsearch run` command that continues this search: the same space and options."""
    import shlex

    words = ["kdsearch", "run", args.space]
    for flag, value in (("--gpus", args.gpus), ("--cpus", args.cpus), ("--num-samples", args.num_samples),
                        ("--results-dir", None if args.results_dir == "results" else args.results_dir),
                        ("--address", args.address), ("--storage", args.storage),
                        ("--threads", getattr(args, "threads", None))):
        if value is not None:
            words += [flag, str(value)]
    if args.smoke_test:
        words.append("--smoke-test")
    return shlex.join([*words, "--name", name or "NAME", "--resume"])


def cmd_validate(args) -> int:
    from kdsearch.spec.kinds import kind_of
    from kdsearch.spec.space import load_space

    space = load_space(args.space)
    searched = ", ".join(space.params) or "nothing (a single configuration)"
    what = kind_of(space.config).summary(space.config)
    print(f"{space.file}: OK — experiment '{space.name}', task {space.config['task']}, {what}; searches {searched}")
    if space.config.get("distill"):
        from kdsearch.spec.teacher_cache_plan import plan_for_space

        print(f"  {plan_for_space(space).line}")
    return 0


def cmd_leaderboard(args) -> int:
    from kdsearch.results.leaderboard import leaderboard_command

    return leaderboard_command(_results(args.results), console=_console(), **({"top": args.top} if args.top is not None else {}))


def cmd_data_synth(args) -> int:
    from kdsearch.data.info import synth_command

    return synth_command(args.out, args.preset, args.seed, console=_console())


def cmd_data_info(args) -> int:
    from kdsearch.data.info import info_command

    return info_command(args.file, console=_console())


def cmd_data_path(args) -> int:
    from kdsearch.data.source import dataset_path
    from kdsearch.spec.space import load_space

    space = load_space(args.space)
    # Progress (a first-time generation) goes to stderr: stdout is the path alone, for $(...).
    from rich.console import Console

    print(dataset_path(space.config["data"], console=Console(stderr=True)))
    return 0


def cmd_data_import(args) -> int:
    from kdsearch.data.importers import import_command

    return import_command(args.src, args.out, args.format, args.folds, args.lengths)


def cmd_evaluate(args) -> int:
    from kdsearch.verbs.evaluate import evaluate_command

    return evaluate_command(_results(args.results), top=args.top, force=args.force, console=_console())


def cmd_confirm(args) -> int:
    from kdsearch.verbs.confirm import confirm_command

    return confirm_command(args.results, top=args.top, seeds=list(range(args.seeds)), gpus=args.gpus, cpus=args.cpus,
                           address=args.address, console=_console())


def cmd_export(args) -> int:
    from kdsearch.verbs.export import export_command

    return export_command(_results(args.results), args.out, fmt=args.format, trial_id=args.trial, console=_console())


def cmd_train(args) -> int:
    from kdsearch.verbs.train_once import train_command

    return train_command(args.space, sets=args.sets, out=args.out, device=args.device, console=_console())


def cmd_replay(args) -> int:
    from kdsearch.verbs.replay import replay_command

    return replay_command(_results(args.results), args.trial_id, epochs=args.epochs, console=_console())


def cmd_teacher_list(args) -> int:
    from kdsearch.verbs.teacher_list import teacher_list_command

    return teacher_list_command()


def cmd_teacher_import_mult(args) -> int:
    from kdsearch.verbs.teacher_import import teacher_import_mult_command

    return teacher_import_mult_command(args.state_dict, args.out, heads=args.num_heads, layers=args.layers,
                                       attn_mask=args.attn_mask, lengths=args.lengths)


def cmd_predict(args) -> int:
    from kdsearch.verbs.predict import predict_command

    return predict_command(args.model, args.data, split=args.split, out=args.out, batch_size=args.batch_size,
                           device=args.device)


def cmd_describe(args) -> int:
    from kdsearch.verbs.describe import describe_command

    return describe_command(args.space, shapes=args.shapes, device=args.device, repeats=args.repeats)


def cmd_report(args) -> int:
    from kdsearch.report.search_report import write_report
    from kdsearch.results.store import read_results

    args.results = _results(args.results)
    meta, trials, _ = read_results(args.results)
    if "row" in trials.columns:  # a search over paper 000's Table 1 rows: the table beside the paper's
        from kdsearch.report.table1 import report_command

        report_command(args.results)
    summary = write_report(args.results)
    print(f"Report: {summary} (plots in {summary.parent}/)")
    return 0


def cmd_diagnose(args) -> int:
    from kdsearch.diagnose import diagnose_command

    return diagnose_command(args.teacher, args.data, split=args.split, out_dir=args.out, student_path=args.student,
                            max_samples=args.max_samples, per_head=args.per_head, console=_console())


def cmd_experiment_kd_gain(args) -> int:
    from kdsearch.experiments import kd_gain_command

    return kd_gain_command(seeds=args.seeds, epochs=args.epochs, teacher_epochs=args.teacher_epochs, out=args.out,
                           space=args.space, device=args.device, console=_console())


def cmd_cluster_check(args) -> int:
    from kdsearch.cluster.check import cluster_check_command

    return cluster_check_command(args.files)


def cmd_bench(args) -> int:
    from kdsearch.bench import BenchOptions, bench_command

    if args.search:
        from kdsearch.bench.command import search_compare_command

        return search_compare_command(args.search, num_samples=args.num_samples, cpus=args.cpus, json_path=args.json,
                                      console=_console(), packed=args.packed)
    if args.packed is not None:
        from kdsearch.errors import UserError

        raise UserError("only with --search SPACE (it adds a packed run to that comparison)", field="--packed")

    from kdsearch.bench.options import parse_configs

    opts = BenchOptions(quick=args.quick, device=args.device, shapes=args.shapes, batch=args.batch,
                        compare=args.compare, skip_search=args.skip_search, threads=args.threads,
                        configs=parse_configs(args.configs))
    return bench_command(opts, json_path=args.json, console=_console())
