"""The `kdsearch` argument parser: every command, its arguments and their help."""

from __future__ import annotations

import argparse

from kdsearch.cli.commands import (  # noqa: F401  (each command's set_defaults(func=...))
    cmd_run,
    cmd_validate,
    cmd_leaderboard,
    cmd_data_synth,
    cmd_data_info,
    cmd_data_path,
    cmd_data_import,
    cmd_evaluate,
    cmd_export,
    cmd_train,
    cmd_replay,
    cmd_teacher_list,
    cmd_teacher_import_mult,
    cmd_predict,
    cmd_describe,
    cmd_report,
    cmd_diagnose,
    cmd_experiment_kd_gain,
    cmd_confirm,
    cmd_cluster_check,
    cmd_bench,
)

EPILOG = """examples:
  kdsearch run search_spaces/edam.yaml                 search on the embedded synthetic data (CPU is fine)
  kdsearch run edam --gpus 8 --num-samples 64          use 8 GPUs, 64 trials
  kdsearch run edam --smoke-test                       2 tiny trials: checks the wiring in about a minute
  kdsearch leaderboard results/<name>                  the table of a finished or running search
  kdsearch data synth data/small.h5 --preset small     write the synthetic dataset
  kdsearch data info data/small.h5                     splits, shapes, label statistics
"""



THREADS_HELP = ("torch CPU threads of this process: a number, or 'auto' for every CPU it may use (default: "
                "OMP_NUM_THREADS if set, else 1: robust on a shared machine, see kdsearch/threads.py)")


def add_threads(parser: argparse.ArgumentParser, extra: str = "") -> None:
    """`--threads`, applied by `kdsearch.cli.main` before the command runs."""
    parser.add_argument("--threads", default=None, metavar="N|auto", help=THREADS_HELP + extra)
    parser.set_defaults(apply_threads=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kdsearch", description="Hyperparameter search for multimodal -> video-only knowledge distillation "
        "(Ray Tune + ASHA + Optuna TPE).", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", help="run a search described by a space YAML", epilog=EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("space", help="space file, or a bundled space's name (edam, smoke, ...)")
    run.add_argument("--gpus", type=int, default=None,
                     help="GPUs the search may use (default: all visible; per-trial share from resources.gpus_per_trial)")
    run.add_argument("--cpus", type=int, default=None, help="CPUs the search may use (default: all)")
    run.add_argument("--num-samples", type=int, default=None, help="number of trials (overrides search.num_samples)")
    run.add_argument("--name", default=None, help="results name: results/<name>/ (default: <space>-<timestamp>; "
                     "with --resume: the latest search of the space)")
    run.add_argument("--results-dir", default="results", help="where results/<name>/ folders go (default: results)")
    run.add_argument("--smoke-test", action="store_true", help="2 trials x 1 epoch, 1-epoch teacher: check the wiring")
    run.add_argument("--resume", action="store_true",
                     help="continue an interrupted search: give the same space and --name NAME (the name the "
                          "run printed; an interrupted run prints the whole command); finished trials are not re-run")
    run.add_argument("--address", default=None,
                     help="join an existing Ray cluster (an address, or 'auto'); default: start Ray locally")
    run.add_argument("--storage", default=None,
                     help="where Tune keeps checkpoints and experiment state: an s3:// URI or a shared (NFS) path; "
                          "needed on multi-node clusters (default: results/<name>/tune)")
    add_threads(run, "; trials use resources.cpus_per_trial threads each")
    run.add_argument("--warm-start", default=None, metavar="RESULTS",
                     help="start the Optuna study with the finished trials of an earlier search (results/<old>); "
                          "its parameters must fit this space")
    run.add_argument("--log", action="append", default=None, metavar="TRACKER",
                     help="also record every trial in a tracker (repeatable): tensorboard (results/<name>/tb) or "
                          "mlflow[=URI] (default URI: results/<name>/mlruns); optional extras kdsearch[tensorboard], "
                          "kdsearch[mlflow]")
    run.set_defaults(func=cmd_run)

    train = sub.add_parser("train", help="train a space's fixed configuration once, in this process (no Ray)",
                           description="Train the space's fixed configuration once with a search trial's own "
                                       "code, without Ray: to debug, profile or keep one configuration. "
                                       "Searched parameters take the values the space fixes for them.")
    train.add_argument("space", help="space file, or a bundled space's name")
    train.add_argument("--set", action="append", metavar="PATH=VALUE", dest="sets",
                       help="change a setting, checked like the file (repeatable), e.g. --set loss.beta=2")
    train.add_argument("--out", help="write the best validation epoch's model here (kdsearch predict runs it)")
    train.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    add_threads(train)
    train.set_defaults(func=cmd_train)

    validate = sub.add_parser("validate", help="check a space file completely without running it")
    validate.add_argument("space", help="space file, or a bundled space's name (edam, smoke, ...)")
    validate.set_defaults(func=cmd_validate)

    describe = sub.add_parser("describe", help="parameters and batch-1 latency of a space's models vs paper 000")
    describe.add_argument("space", help="space file, or a bundled space's name (edam, smoke, ...)")
    describe.add_argument("--shapes", choices=("data", "mosei"), default="data",
                          help="input shapes: the space's data (default) or CMU-MOSEI unaligned (the paper's)")
    describe.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    describe.add_argument("--repeats", type=int, default=None,
                          help="timed forward passes per model, their median reported (default: at least 25 "
                               "passes and at least 1 s of them, stable on a busy machine)")
    add_threads(describe)
    describe.set_defaults(func=cmd_describe)

    predict = sub.add_parser("predict", help="run a saved model (teacher or student) on one split of a dataset")
    predict.add_argument("model", help="a model file (cached or imported teacher, exported student)")
    predict.add_argument("data", help="dataset .h5 in kdsearch's layout (`kdsearch data path SPACE` prints a "
                                      "space's, e.g. the cached synthetic file)")
    predict.add_argument("--split", default="test", choices=("train", "valid", "test"),
                         help="which split of the dataset to run (default test)")
    predict.add_argument("--out", required=True, help="output .npy: the raw outputs (N, n_out)")
    predict.add_argument("--batch-size", type=int, default=256,
                         help="samples per forward pass (default 256; lower it if memory runs out)")
    predict.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    add_threads(predict)
    predict.set_defaults(func=cmd_predict)

    report = sub.add_parser("report", help="plots and a Markdown summary of a search (and paper 000's Table 1 "
                            "beside a search over search_spaces/table1.yaml)")
    report.add_argument("results", help="a results folder or a search's name, e.g. table1-20261122-101500")
    report.set_defaults(func=cmd_report)

    board = sub.add_parser("leaderboard", help="print the leaderboard of results/<name>")
    board.add_argument("results", help="a results folder or a search's name, e.g. edam-20261122-101500")
    board.add_argument("--top", type=int, default=None, help="rows to show (default: as many as the table a run ends on)")
    board.set_defaults(func=cmd_leaderboard)

    evaluate = sub.add_parser("evaluate", help="test-split metrics, once, for the top trials of a search")
    evaluate.add_argument("results", help="a results folder or a search's name (found in results/)")
    evaluate.add_argument("--top", type=int, default=3, help="how many of the best trials (default 3)")
    evaluate.add_argument("--force", action="store_true", help="score trials already evaluated again")
    add_threads(evaluate)
    evaluate.set_defaults(func=cmd_evaluate)

    confirm = sub.add_parser(
        "confirm", help="re-train the best configurations and their no-KD baseline over seeds; test once; paired tests",
        description="Re-train the K best configurations of a finished search and the matching no-KD student "
                    "(loss.beta 0: same student, labels and epochs) over N training seeds, as one Ray Tune run in "
                    "RESULTS/confirm/ (run it again to resume). Each run's epoch is chosen on validation and scored "
                    "once on test; confirm.md/.json/.png give mean ± std per configuration and the paired "
                    "difference to the baseline (Wilcoxon signed-rank p; paired t-test p in the JSON).")
    confirm.add_argument("results", help="a finished search's results folder")
    confirm.add_argument("--top", type=int, default=1, help="how many of the best distinct configurations (default 1)")
    confirm.add_argument("--seeds", type=int, default=5,
                         help="training seeds 0..N-1 (default 5; the Wilcoxon p-value cannot go below 2/2^N)")
    confirm.add_argument("--gpus", type=int, default=None, help="GPUs to use (default: all visible)")
    confirm.add_argument("--cpus", type=int, default=None, help="CPUs to use (default: all)")
    confirm.add_argument("--address", default=None, help="join a running Ray cluster (default: start Ray locally)")
    confirm.set_defaults(func=cmd_confirm)

    export = sub.add_parser("export", help="write the best video-only student (or a chosen trial's) for deployment")
    export.add_argument("results", help="a results folder or a search's name (found in results/)")
    export.add_argument("--out", required=True, help="output file, e.g. student.pt")
    export.add_argument("--format", choices=("kdsearch", "torchscript", "onnx"), default="kdsearch",
                        help="kdsearch model file (default; `kdsearch predict` runs it), TorchScript, or ONNX")
    export.add_argument("--trial", default=None, help="a trial id (default: the best trial)")
    add_threads(export)
    export.set_defaults(func=cmd_export)

    replay = sub.add_parser("replay", help="re-run one trial on CPU and compare with its recorded metrics")
    replay.add_argument("results", help="a results folder or a search's name, e.g. edam-20261122-101500")
    replay.add_argument("trial_id", help="the trial id shown in the leaderboard")
    replay.add_argument("--epochs", type=int, default=None, help="epochs to replay (default: as many as it ran)")
    replay.set_defaults(func=cmd_replay)

    data = sub.add_parser("data", help="dataset files: synthesise, inspect").add_subparsers(
        dest="data_command", metavar="DATA_COMMAND", required=True)
    synth = data.add_parser("synth", help="write a synthetic dataset in kdsearch's HDF5 layout")
    synth.add_argument("out", help="output .h5 file")
    synth.add_argument("--preset", default="small", help="small (CPU default) or mosei (CMU-MOSEI shapes and sizes, ~6.4 GB)")
    synth.add_argument("--seed", type=int, default=0, help="random seed of the generated data (default 0)")
    synth.set_defaults(func=cmd_data_synth)
    info = data.add_parser("info", help="splits, shapes and label statistics of a dataset file")
    info.add_argument("file", help="a dataset .h5 file (`kdsearch data path SPACE` prints a space's)")
    info.set_defaults(func=cmd_data_info)
    dpath = data.add_parser("path", help="print the dataset file a space trains on (the synthetic one is "
                                         "generated into the cache if needed)")
    dpath.add_argument("space", help="space file, or a bundled space's name (edam, smoke, ...)")
    dpath.set_defaults(func=cmd_data_path)
    imp = data.add_parser("import", help="convert MulT/MMSA pickles or CMU-SDK .csd files into kdsearch's layout")
    imp.add_argument("src", help="a MulT or MMSA .pkl, or a folder of .csd files (one per modality + labels)")
    imp.add_argument("out", help="output .h5 file (written only when the import succeeds)")
    imp.add_argument("--format", default=None, help="mult-pkl, mmsa-pkl or csd (default: detected)")
    imp.add_argument("--folds", action="append", default=None, metavar="FILE|SPLIT=ID,...",
                     help="csd: train/valid/test video ids, a JSON/YAML/text file or SPLIT=ID,ID (repeatable)")
    imp.add_argument("--lengths", default=None, metavar="text=50,audio=500,vision=500",
                     help="csd: fixed sequence length per modality (default text 50, audio 500, vision 500)")
    imp.set_defaults(func=cmd_data_import)

    teacher = sub.add_parser("teacher", help="the teacher cache").add_subparsers(
        dest="teacher_command", metavar="TEACHER_COMMAND", required=True)
    tlist = teacher.add_parser("list", help="list cached teachers and their files")
    tlist.set_defaults(func=cmd_teacher_list)
    mult = teacher.add_parser("import-mult", help="convert a state dict of the original MulT code's MULTModel")
    mult.add_argument("state_dict", help="torch.save(model.state_dict(), ...) of MulT's MULTModel")
    mult.add_argument("--out", required=True, help="output model file (loadable by predict and as a teacher)")
    mult.add_argument("--num-heads", type=int, default=5, help="attention heads (MulT default 5)")
    mult.add_argument("--layers", type=int, default=None, help="cross-modal layers (default: read from the weights)")
    mult.add_argument("--attn-mask", action=argparse.BooleanOptionalAction, default=True,
                      help="MulT's attention mask (default on, as MulT's argparse)")
    mult.add_argument("--lengths", default=None, metavar="text=50,audio=500,vision=500",
                      help="sequence lengths the teacher is built for (default MOSEI unaligned: 50/500/500)")
    mult.set_defaults(func=cmd_teacher_import_mult)

    diag = sub.add_parser("diagnose", help="where a teacher's attention maps look: entropy, concentration, heat-maps")
    diag.add_argument("teacher", help="teacher checkpoint, e.g. ~/.cache/kdsearch/teachers/<key>/teacher.pt")
    diag.add_argument("data", help="dataset file (.h5) the teacher was trained on")
    diag.add_argument("--split", default="valid", choices=("train", "valid", "test"), help="split to run (default valid)")
    diag.add_argument("--out", default=None, help="folder for PNGs and diagnose.json (default: diagnose-<teacher key>/)")
    diag.add_argument("--student", default=None, metavar="MODEL.pt", help="also diagnose this student checkpoint")
    diag.add_argument("--max-samples", type=int, default=None, metavar="N", help="use only the first N samples")
    diag.add_argument("--per-head", action="store_true", help="also report and draw each attention head")
    add_threads(diag)
    diag.set_defaults(func=cmd_diagnose)

    experiment = sub.add_parser("experiment", help="fixed, re-runnable measurements").add_subparsers(
        dest="experiment_command", metavar="EXPERIMENT", required=True)
    kd_gain = experiment.add_parser(
        "kd-gain", help="kdsearch confirm on a space's fixed configuration (default: the synthetic default): "
        "distilled vs no-KD student over seeds, teacher and chance, paired tests")
    kd_gain.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                         help="training seeds, each training both students (default 0 1 2)")
    kd_gain.add_argument("--epochs", type=int, default=None, help="student epochs (default: the space's train.epochs)")
    kd_gain.add_argument("--teacher-epochs", type=int, default=None,
                         help="teacher epochs (default: the space's teacher_train.epochs)")
    kd_gain.add_argument("--space", default="edam_scarce", help="the experiment's space file (default edam_scarce)")
    kd_gain.add_argument("--out", default="results/kd_gain.md", help="Markdown table; JSON beside it; the runs in "
                         "the folder of the same name, resumable (default results/kd_gain.md)")
    kd_gain.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    add_threads(kd_gain)
    kd_gain.set_defaults(func=cmd_experiment_kd_gain)

    cluster = sub.add_parser("cluster", help="cluster configs").add_subparsers(
        dest="cluster_command", metavar="CLUSTER_COMMAND", required=True)
    check = cluster.add_parser("check", help="validate a Ray launcher config or KubeRay manifest offline")
    check.add_argument("files", nargs="+", help="Ray cluster launcher YAML files or KubeRay manifests")
    check.set_defaults(func=cmd_cluster_check)

    bench = sub.add_parser("bench", help="time training steps, inference and a small search on this machine")
    bench.add_argument("--quick", action="store_true",
                       help="small shapes, teacher + config-5 student + naive comparison, no search (CI, < 1 min)")
    bench.add_argument("--json", default=None, metavar="OUT", help="also write the results to this JSON file")
    bench.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                       help="where to time (default auto: cuda when present)")
    bench.add_argument("--shapes", default=None, choices=("small", "mosei"),
                       help="synthetic preset shapes (default: mosei on a GPU, small on a CPU)")
    bench.add_argument("--batch", type=int, default=24, help="training batch size of the headline figures (default 24)")
    bench.add_argument("--compare", default=None, choices=("naive",),
                       help="time the naive MulT-style teacher side by side and print the ratio")
    bench.add_argument("--skip-search", action="store_true", help="do not run the fixed small search")
    bench.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's; --quick: 1)")
    bench.add_argument("--configs", default=None, metavar="1,2,...",
                       help="student configurations to time (default: 1-5; --quick: 5)")
    bench.add_argument("--search", default=None, metavar="SPACE",
                       help="run SPACE's seeded search twice, the generic way (teacher run every step, one student "
                            "per worker) and the fast way (the defaults), and print wall time, trials/hour, student "
                            "steps/s, best validation metric and the ratios; first a config-5 EDAM step with and "
                            "without the teacher cache at the demo's and MulT's sizes")
    bench.add_argument("--num-samples", type=int, default=None, help="with --search: trials per search (default: "
                                                                      "the space's)")
    bench.add_argument("--cpus", type=int, default=None, help="with --search: CPUs each search may use (default: all)")
    bench.add_argument("--packed", type=int, default=None, metavar="K",
                       help="with --search: a third run, 'packed': the fast way with K students per worker "
                            "(resources.students_per_worker: K), same seed, trials and CPUs, and its ratios to the "
                            "fast way")
    bench.set_defaults(func=cmd_bench)
    return parser
