"""The ``neuralmi`` command: ``estimate`` from files, ``demo``, ``bench``, ``bounds``. Thin: parse, call, print."""

from __future__ import annotations

import argparse
import json
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO, get_args

from neuralmi._version import __version__
from neuralmi.config import LR_SCHEDULES
from neuralmi.critics import CriticName
from neuralmi.data import Preprocess
from neuralmi.errors import NeuralMIError

__all__ = ["main"]

EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 2, 1, 130
DEMO_TASKS = ("gaussian_1d_rho0.4", "binary_channel", "pm1_vector_7", "independent_high_dim")


class UsageError(NeuralMIError):
    """Bad usage of the command (a missing file, an output that exists, ...): one line on stderr, exit code 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuralmi", description="Neural estimation of mutual information.")
    parser.add_argument("--version", action="version", version=f"neuralmi {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True)

    est = sub.add_parser("estimate", help="estimate I(X;Y) from sample files")
    est.add_argument("x", help="X samples: .npy, .npz, .csv, .tsv or .parquet (or one table holding both, with --x/--y)")
    est.add_argument("y", nargs="?", help="Y samples, paired row by row with X")
    est.add_argument("--x", dest="x_cols", help="columns of X in a single table: names or indices, comma-separated, ranges a:b")
    est.add_argument("--y", dest="y_cols", help="columns of Y in a single table")
    est.add_argument(
        "--given",
        metavar="Z",
        help="estimate I(X;Y|Z) given Z: a file of Z samples (paired row by row), or with one table input its Z columns "
        "(or, in an .npz holding x and y, the name of the Z array)",
    )
    header = est.add_mutually_exclusive_group()
    header.add_argument(
        "--header", dest="header", action="store_true", default=None, help="the first row of a .csv/.tsv names the columns"
    )
    header.add_argument("--no-header", dest="header", action="store_false", help="the first row of a .csv/.tsv is data")
    est.add_argument("--thousands", help="the character grouping digits in a .csv/.tsv's numbers (1,000 with ','); default none")
    est.add_argument("--bound", default=None, help="training bound (default dv); see `neuralmi bounds`")
    est.add_argument(
        "--critic",
        default=None,
        choices=get_args(CriticName),
        help="critic (default separable): gaussian is the closed form, quadratic the Gaussian fit trained further",
    )
    est.add_argument(
        "--no-gaussian-critic",
        dest="gaussian_critic",
        action="store_false",
        default=None,
        help="do not try the closed-form Gaussian critic beside the trained one",
    )
    est.add_argument(
        "--no-density-ratio",
        dest="density_ratio",
        action="store_false",
        default=None,
        help="do not try the density-ratio critic (a mixture density network fitted by maximum likelihood)",
    )
    est.add_argument(
        "--no-ensemble",
        dest="ensemble",
        action="store_false",
        default=None,
        help="do not try averaging critics (the best with the best of another kind; a density ratio's two sides)",
    )
    est.add_argument(
        "--quadratic-steps",
        type=int,
        help="steps refining the Gaussian candidate as a trained quadratic critic (default 500; 0: closed form only)",
    )
    est.add_argument("--steps", type=int, dest="max_steps", help="maximum training steps")
    est.add_argument("--batch-size", type=int)
    est.add_argument("--lr", type=float)
    est.add_argument("--lr-schedule", choices=LR_SCHEDULES, help="learning-rate schedule (default cosine)")
    est.add_argument("--test-fraction", type=float)
    est.add_argument("--preprocess", choices=get_args(Preprocess), help="per-feature map before training")
    est.add_argument("--seed", type=int)
    est.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: CUDA when available)")
    est.add_argument(
        "--discrete",
        choices=["x", "y", "xy", "z", "xz", "yz"],
        help="the named side(s) hold class labels (integers, strings, categories): one-hot, never one ordered number "
        "(z: with --given; with --given, x and y cannot both be labels)",
    )
    est.add_argument("--threads", type=int, help="torch CPU threads for the run (default: chosen from the data's width)")
    est.add_argument("--json", action="store_true", help="print a JSON object instead of one line")
    est.add_argument("--plot", type=Path, help="write the training curve to this PNG")
    est.add_argument("--save", type=Path, help="save critic, config and result to this directory (reload: neuralmi.load)")
    est.add_argument("--force", action="store_true", help="overwrite existing --plot / --save outputs")
    est.add_argument("--quiet", action="store_true", help="no progress bar, no warnings")
    est.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    demo = sub.add_parser("demo", help="run the classic examples with known MI and show estimate beside truth")
    demo.add_argument("--plot", type=Path, default=Path("neuralmi_demo.png"), help="where to write the plot")
    demo.add_argument("--no-plot", action="store_true")
    demo.add_argument("--quick", action="store_true", help="smaller samples and fewer steps")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--force", action="store_true", help="overwrite an existing plot")
    demo.add_argument("--quiet", action="store_true")
    demo.add_argument("--threads", type=int, help="torch CPU threads (default: chosen from each example's width)")
    demo.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    bench = sub.add_parser("bench", help="run the ground-truth benchmark suite (and peers) and print a table")
    which = bench.add_mutually_exclusive_group()
    which.add_argument("--tasks", nargs="+", help="task names (default: the classic family; with --quick, a few small ones)")
    which.add_argument("--family", help="run every task of this family (classic, nongaussian, holdout, cmi; see --list)")
    bench.add_argument("--bounds", nargs="+", default=["dv"], help="training bounds of neuralmi to run")
    bench.add_argument("--peers", nargs="*", default=[], help="peers on the same samples: ksg, torch_mist_mine, ...")
    bench.add_argument("--seeds", type=int, default=1)
    bench.add_argument("--quick", action="store_true", help="small samples, few steps: under a minute")
    bench.add_argument("--consistency", action="store_true", help="also run the self-consistency checks")
    bench.add_argument("--json", type=Path, help="write records and summary to this JSON file")
    bench.add_argument("--plot", type=Path, help="estimate vs truth with error bars, PNG")
    bench.add_argument("--force", action="store_true", help="overwrite existing --json / --plot files")
    bench.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1, as peers run: fair timings)")
    bench.add_argument(
        "--list", action="store_true", help="list the families and their tasks (or one family's, with --family) and exit"
    )
    bench.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    _matrix_parser(sub)

    bounds = sub.add_parser("bounds", help="list the bounds and critics")
    bounds.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def _matrix_parser(sub: Any) -> None:
    mat = sub.add_parser("matrix", help="held-out MI of every pair of columns (or groups), or of each against a target")
    mat.add_argument("table", help="samples as columns: .npy (2-D), .npz (one array), .csv, .tsv or .parquet")
    mat.add_argument("--columns", help="columns to pair: names or indices, comma-separated, ranges a:b (default: all)")
    mat.add_argument("--target", help="pair each column with this one (a name or index) instead of with each other")
    mat.add_argument("--group", action="append", metavar="NAME=COLS", help="a group of columns as one variable (repeat)")
    mat.add_argument("--discrete", help="columns holding class labels (the target too): one-hot, never one ordered number")
    mat.add_argument("--critic", choices=["separable", "gaussian"], help="separable (trained, default) or gaussian alone")
    mat.add_argument("--no-gaussian-critic", dest="gaussian_critic", action="store_false", default=None)
    mat.add_argument("--steps", type=int, dest="max_steps", help="maximum training steps of the batched pass")
    mat.add_argument("--batch-size", type=int)
    mat.add_argument("--test-fraction", type=float)
    mat.add_argument("--seed", type=int)
    mat.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: CUDA when available)")
    mat.add_argument("--threads", type=int, help="torch CPU threads (default: chosen from the width of the batched pass)")
    mat.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    mat.add_argument("--plot", type=Path, help="write a heatmap (with --target: ranked bars) to this PNG")
    mat.add_argument("--force", action="store_true", help="overwrite an existing --plot file")
    mat.add_argument("--quiet", action="store_true", help="no progress bar, no warnings")
    mat.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _labels(table: Any, spec: str, path: str) -> list[Any]:
    """The column labels a --columns style spec names (names or indices of a DataFrame, indices of an array)."""
    import numpy as np

    from neuralmi.tables import select_columns

    try:
        if hasattr(table, "columns"):
            return list(select_columns(table.iloc[:0], spec, path).columns)
        return [int(i) for i in select_columns(np.arange(np.shape(table)[1])[None, :], spec, path)[0]]
    except NeuralMIError:
        raise
    except ValueError:  # a range of names: ranges a:b take indices
        raise UsageError(
            f"{path}: cannot read the columns {spec!r}: names or indices, comma-separated; ranges a:b of indices"
        ) from None


def _matrix(args: argparse.Namespace) -> int:
    import numpy as np

    from neuralmi.matrix import mi_matrix
    from neuralmi.tables import read_table

    _check_plot(args.plot, args.force)
    _check_threads(args.threads)
    table = read_table(args.table)
    if isinstance(table, dict):
        if len(table) != 1:
            raise UsageError(f"{args.table}: holds several arrays {sorted(table)}; save the table as one 2-D array")
        table = next(iter(table.values()))
    if np.ndim(table) != 2:
        raise UsageError(f"{args.table}: a table of columns is 2-D, got shape {np.shape(table)}")
    path = str(args.table)
    target = _labels(table, args.target, path)[0] if args.target else None
    groups = None
    if args.group:
        groups = {}
        for item in args.group:
            name, sep, cols = item.partition("=")
            if not sep or not name or not cols:
                raise UsageError(f"--group takes NAME=COLS, got {item!r}")
            groups[name] = _labels(table, cols, path)
    elif args.columns:
        groups = {c: [c] for c in _labels(table, args.columns, path) if c != target}
    discrete = _labels(table, args.discrete, path) if args.discrete else []
    flags = ("critic", "gaussian_critic", "max_steps", "batch_size", "test_fraction", "seed", "device")
    options = {k: getattr(args, k) for k in flags if getattr(args, k) is not None}
    _config(options)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = mi_matrix(
            table, target, groups=groups, discrete=discrete, threads=args.threads,
            progress=not args.quiet and sys.stderr.isatty(), **options,
        )  # fmt: skip
    if not args.quiet:
        _print_warnings(caught)
    if args.json:
        print(json.dumps(result.to_dict(), allow_nan=False))
    elif target is not None:
        print(f"{'feature':<24} {'I(feature; ' + str(target) + ') nats':>24} {'95% CI':>19}")
        for (name, _), r in sorted(result.results.items(), key=lambda item: -item[1].nats):
            ci = f"[{r.ci[0]:.4f}, {r.ci[1]:.4f}]"
            print(f"{name!s:<24} {r.nats:>24.4f} {ci:>19}")
        print(f"(held-out; {len(result.results)} pairs, {result.seconds:.1f} s)")
    else:
        print(result)
    if args.plot is not None:
        result.plot(args.plot)
    return 0


def _check_file(path: Path | None, force: bool, flag: str) -> None:
    """Refuse, before any work, an output file that cannot be written or would overwrite one without ``--force``."""
    from neuralmi._files import check_output

    if path is None:
        return
    check_output(path, folder=False, what=flag)
    if path.exists() and not force:
        raise UsageError(f"{path} already exists; pass --force to overwrite it")


def _check_plot(path: Path | None, force: bool, flag: str = "--plot") -> None:
    """Refuse, before any work, a plot path of a format matplotlib cannot write, or one :func:`_check_file` refuses."""
    if path is None:
        return
    _require_plotting()
    _check_file(path, force, flag)
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    if path.suffix[1:].lower() not in formats:
        raise UsageError(
            f"{flag} {path}: matplotlib cannot write {path.suffix or 'a file without a suffix'}; "
            f"name it with one of {', '.join('.' + f for f in sorted(formats))}"
        )


def _check_save(path: Path | None, force: bool) -> None:
    """Refuse, before any work, a --save folder that cannot be written or would be overwritten without ``--force``."""
    from neuralmi._files import check_output

    if path is None:
        return
    check_output(path, folder=True, what="--save")
    if path.exists() and not force:
        raise UsageError(f"{path} already exists; pass --force to overwrite it")
    from neuralmi.io import check_save_target

    check_save_target(path, force=force)


def _write(outputs: list[tuple[Path, Any]], force: bool) -> None:
    """Write every output (a path and its bytes, a figure, or a folder's files) in full, then move them all into place.

    Each is written under a temporary name beside its target first; Ctrl-C or an error before the
    move leaves no output, and Ctrl-C during the move is held back until every output is in place.
    """
    from neuralmi._files import Staged, commit, discard, stage_file, stage_folder

    staged: list[Staged] = []
    try:
        for path, content in outputs:
            if isinstance(content, dict):
                staged.append(stage_folder(path, content, replace=force))
            else:
                staged.append(stage_file(path, _writer(content, path.suffix[1:].lower()), replace=force))
    except BaseException:
        discard(staged)
        raise
    commit(staged)


def _writer(content: Any, fmt: str) -> Callable[[BinaryIO], object]:
    """How an output's content goes into an open file: bytes as they are, a matplotlib Figure in the format ``fmt``."""
    if isinstance(content, bytes):
        return lambda f: f.write(content)
    return lambda f: content.savefig(f, format=fmt)


def _load_samples(args: argparse.Namespace) -> tuple[Any, Any]:
    from neuralmi.tables import read_table, select_columns

    data = read_table(args.x, header=args.header, thousands=args.thousands)
    if args.y is None:
        if isinstance(data, dict):
            if {"x", "y"} <= data.keys():
                return data["x"], data["y"]
            raise UsageError(f"{args.x}: an .npz alone must hold arrays named 'x' and 'y', found {sorted(data)}")
        if not (args.x_cols and args.y_cols):
            raise UsageError("give two files X Y, or one table with --x COLS --y COLS")
        return select_columns(data, args.x_cols, args.x), select_columns(data, args.y_cols, args.x)

    def single(value: Any, path: str, cols: str | None) -> Any:
        if isinstance(value, dict):
            if len(value) != 1:
                raise UsageError(f"{path}: holds several arrays {sorted(value)}; save one array per file")
            value = next(iter(value.values()))
        return select_columns(value, cols, path) if cols else value

    other = read_table(args.y, header=args.header, thousands=args.thousands)
    return single(data, args.x, args.x_cols), single(other, args.y, args.y_cols)


GIVEN_REFUSES = {
    "bound": "--bound",
    "critic": "--critic",
    "gaussian_critic": "--no-gaussian-critic",
    "density_ratio": "--no-density-ratio",
    "ensemble": "--no-ensemble",
    "quadratic_steps": "--quadratic-steps",
    "lr": "--lr",
    "lr_schedule": "--lr-schedule",
}
"""Flags of ``estimate`` that ``--given`` does not use: the two density models are fitted by maximum likelihood."""


def _load_given(args: argparse.Namespace) -> Any:
    """Z for ``--given``: a file of samples, or columns (an array's name in an .npz) of the single table holding X and Y."""
    from neuralmi.tables import read_table, select_columns

    if Path(args.given).exists():
        value = read_table(args.given)
        if isinstance(value, dict):
            if len(value) != 1:
                raise UsageError(f"{args.given}: holds several arrays {sorted(value)}; save Z as one array per file")
            value = next(iter(value.values()))
        return value
    if args.y is not None:
        raise UsageError(f"--given {args.given}: no such file (columns of Z are named in a single table given with --x/--y)")
    data = read_table(args.x)
    if isinstance(data, dict):
        if args.given not in data:
            raise UsageError(f"{args.x}: no array named {args.given!r} for --given, found {sorted(data)}")
        return data[args.given]
    return select_columns(data, args.given, args.x)


def _estimate_given(args: argparse.Namespace, x: Any, y: Any, options: dict[str, Any]) -> int:
    """``estimate --given Z``: I(X;Y|Z) by :func:`neuralmi.estimate_cmi`, printed as one line or JSON."""
    from neuralmi.cmi import estimate_cmi
    from neuralmi.data import as_samples, labels_hint
    from neuralmi.labels import as_labels

    refused = [flag for key, flag in GIVEN_REFUSES.items() if getattr(args, key) is not None]
    if refused:
        raise UsageError(
            f"{', '.join(refused)} do(es) not apply with --given (both density models are fitted by maximum likelihood)"
        )
    discrete = args.discrete or ""
    try:
        z = _load_given(args)
        z = as_labels(z, "Z")[0] if "z" in discrete else as_samples(z, "Z")
    except NeuralMIError as err:
        flag = "--discrete " + _with_side(discrete, "z")
        raise UsageError(f"--given {args.given}: {labels_hint(err, flag)}") from None
    if len(z) != len(x):
        raise UsageError(f"Z (--given {args.given}) has {len(z)} rows but X has {len(x)}; rows must be paired")
    config = _config({**options, **{f"discrete_{side}": True for side in discrete if side != "z"}})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = estimate_cmi(x, y, z, config, discrete_z="z" in discrete, device=args.device, threads=args.threads)
    if not args.quiet:
        _print_warnings(caught)
    _report(args, result, len(x))
    return 0


def _report(args: argparse.Namespace, result: Any, n: int) -> None:
    """Print an estimate (one line, or ``--json``), then write ``--save`` and ``--plot`` whole or not at all."""
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        lo, hi = result.ci
        print(
            f"{getattr(result, 'quantity', 'I(X;Y)')} = {result.nats:.4f} nats = {result.bits:.4f} bits, 95% CI "
            f"[{lo:.4f}, {hi:.4f}] nats (± {result.stderr:.4f}), n = {n} (test {result.n_test}), {result.seconds:.1f} s"
        )
    outputs: list[tuple[Path, Any]] = []
    if args.save is not None:
        from neuralmi.io import saved_files

        outputs.append((args.save, saved_files(result)))
    if args.plot is not None:
        from neuralmi.plotting import plot_curve

        outputs.append((args.plot, plot_curve(result)))
    _write(outputs, args.force)


def _with_side(declared: str, side: str) -> str:
    """The ``--discrete`` value that declares ``side`` as well as the sides already declared ("x" and "y": "xy")."""
    return "".join(c for c in "xyz" if c in declared or c == side)


def _estimate(args: argparse.Namespace) -> int:
    from neuralmi.data import as_samples, labels_hint
    from neuralmi.estimate import estimate_mi
    from neuralmi.labels import as_labels

    _check_plot(args.plot, args.force)
    _check_save(args.save, args.force)
    _check_threads(args.threads)
    if args.device is not None:
        from neuralmi.estimate import pick_device

        pick_device(args.device)
    x, y = _load_samples(args)
    discrete = args.discrete or ""
    if "z" in discrete and args.given is None:
        raise UsageError("--discrete z declares the labels of Z, given with --given")
    try:
        x = as_labels(x, "X")[0] if "x" in discrete else as_samples(x, "X")
        y = as_labels(y, "Y")[0] if "y" in discrete else as_samples(y, "Y")
    except NeuralMIError as err:
        side = "x" if str(err).startswith("X") else "y"
        where = args.x if side == "x" or args.y is None else args.y
        raise UsageError(f"{where}: {labels_hint(err, '--discrete ' + _with_side(discrete, side))}") from None
    if len(x) != len(y):
        raise UsageError(f"X ({args.x}) has {len(x)} rows but Y ({args.y or args.x}) has {len(y)}; rows must be paired")
    options = {
        k: getattr(args, k)
        for k in (
            "bound",
            "critic",
            "max_steps",
            "batch_size",
            "lr",
            "lr_schedule",
            "gaussian_critic",
            "density_ratio",
            "ensemble",
            "quadratic_steps",
            "test_fraction",
            "preprocess",
            "seed",
        )
        if getattr(args, k) is not None
    }
    if args.given is not None:
        return _estimate_given(args, x, y, options)
    options.update({f"discrete_{side}": True for side in discrete})
    config = _config(options)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        progress = not args.quiet and sys.stderr.isatty()
        result = estimate_mi(x, y, config, device=args.device, progress=progress, threads=args.threads)
    if not args.quiet:
        _print_warnings(caught)
    _report(args, result, len(x))
    return 0


def _check_threads(threads: int | None) -> None:
    if threads is not None and threads < 1:
        raise UsageError(f"--threads must be at least 1, got {threads}")


def _config(options: dict[str, Any]) -> Any:
    """The estimator's config from the flags given; its refusal of a value is a usage error."""
    from neuralmi.estimate import EstimatorConfig

    try:
        return EstimatorConfig(**options)
    except ValueError as err:
        raise UsageError(str(err)) from None


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Each distinct warning once, as one line without the source line Python's default display adds."""
    for message in dict.fromkeys(str(w.message) for w in caught):
        print(f"neuralmi: warning: {message}", file=sys.stderr)


def _require_plotting() -> None:
    from neuralmi.plotting import require_matplotlib

    try:
        require_matplotlib()
    except ImportError as err:
        raise UsageError(str(err)) from None


def _demo(args: argparse.Namespace) -> int:
    from neuralmi.benchmark import get_task
    from neuralmi.estimate import estimate_mi

    plot = None if args.no_plot else args.plot
    _check_plot(plot, args.force)
    _check_threads(args.threads)
    rows = []
    print(f"{'example':<24} {'n':>6} {'truth':>8} {'estimate':>9} {'95% CI':>19} {'seconds':>8}")
    for task in map(get_task, DEMO_TASKS):
        n = min(task.n, 2000) if args.quick else task.n
        x, y = task.sample(args.seed, n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quick: dict[str, Any] = {"max_steps": 300} if args.quick else {}  # otherwise the defaults, as a user would run them
            progress = not args.quiet and sys.stderr.isatty()
            r = estimate_mi(x, y, seed=args.seed, progress=progress, threads=args.threads, **quick)
        rows.append({"name": task.name, "truth_nats": task.truth, **r.to_dict()})
        ci = f"[{r.ci[0]:.3f}, {r.ci[1]:.3f}]"
        print(f"{task.name:<24} {n:>6} {task.truth:>8.4f} {r.nats:>9.4f} {ci:>19} {r.seconds:>8.1f}", flush=True)
    if plot is not None:
        from neuralmi.plotting import plot_demo

        _write([(plot, plot_demo(rows))], args.force)
        print(f"plot written to {plot}")
    return 0


def _list_tasks(families: Sequence[str]) -> None:
    from neuralmi.benchmark import FAMILIES
    from neuralmi.benchmark.tasks import find_task

    for family in families:
        print(f"family {family} ({len(FAMILIES[family])} tasks):")
        for task in map(find_task, FAMILIES[family]):
            truth = f"{task.truth:.4f}" + (f" ± {task.truth_stderr:.4f}" if task.truth_stderr else "")
            print(f"  {task.name:<28} n={task.n:<6} truth={truth} nats  {task.description}")


def _bench(args: argparse.Namespace) -> int:
    from neuralmi.benchmark import FAMILIES, TASKS
    from neuralmi.benchmark.cmi import CMI_TASKS
    from neuralmi.benchmark.runner import consistency_checks, format_table, run, summarise

    if args.family is not None and args.family not in FAMILIES:
        raise UsageError(f"unknown family {args.family!r}; choose from {', '.join(FAMILIES)} (see `neuralmi bench --list`)")
    if args.list:
        _list_tasks([args.family] if args.family else list(FAMILIES))
        return 0
    _check_file(args.json, args.force, "--json")
    _check_plot(args.plot, args.force)
    if args.seeds < 1:
        raise UsageError(f"--seeds must be at least 1, got {args.seeds}")
    unknown = [t for t in args.tasks or [] if t not in TASKS and t not in CMI_TASKS]
    if unknown:
        raise UsageError(f"unknown task(s) {unknown}; see `neuralmi bench --list`")
    for bound in args.bounds:
        _config({"bound": bound})

    def show(r: Any) -> None:
        print(f"  {r.task} / {r.method} / seed {r.seed}: {r.nats:.4f} (truth {r.truth:.4f}), {r.seconds:.1f} s", file=sys.stderr)

    import torch

    torch.set_num_threads(args.threads)
    records = run(args.tasks, args.bounds, args.seeds, quick=args.quick, peers=args.peers, progress=show, family=args.family)
    rows = summarise(records)
    print(format_table(rows))
    out: dict[str, Any] = {"records": [r.to_dict() for r in records], "summary": rows}
    if args.consistency:
        checks = consistency_checks(quick=args.quick)
        out["consistency"] = checks
        for name, c in checks.items():
            measured = c.get("ratio", c["estimate"])
            print(f"consistency {name:<16} measured {measured:.3f}  ideal {c['ideal']:.3f}")
    outputs: list[tuple[Path, Any]] = []
    if args.json is not None:
        outputs.append((args.json, json.dumps(out, indent=1).encode()))
    if args.plot is not None:
        from neuralmi.plotting import plot_bench

        outputs.append((args.plot, plot_bench(rows, records)))
    _write(outputs, args.force)
    return 0


def _bounds() -> int:
    from neuralmi.bounds import BOUNDS, UPPER_BOUNDS
    from neuralmi.critics import CRITICS
    from neuralmi.estimate import REPORT_WITH

    print("bounds (lower bounds and f-GAN objectives; estimate_mi reports each with the bound after ->):")
    for name, fn in BOUNDS.items():
        summary = (fn.__doc__ or "").strip().splitlines()[0]
        report = f" -> {REPORT_WITH[name]}" if name in REPORT_WITH else " (MILoss only)"
        print(f"  {name:<18}{report:<15} {summary}")
    print("upper bounds (for minimising MI, via CLUB):")
    for name, fn in UPPER_BOUNDS.items():
        print(f"  {name:<18}{'':<15} {(fn.__doc__ or '').strip().splitlines()[0]}")
    print("critics:")
    for name, cls in CRITICS.items():
        print(f"  {name:<18}{'':<15} {(cls.__doc__ or '').strip().splitlines()[0]}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 internal error, 2 bad usage, input or files, 130 Ctrl-C)."""
    try:
        return _run(argv)
    except KeyboardInterrupt:  # anywhere, the imports of torch and the rest included: one line, no traceback
        print("neuralmi: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _run(argv: Sequence[str] | None) -> int:
    """Parse and run one command, turning each exception into its exit code and one line on stderr."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse prints its own one-line usage error
        return int(exc.code or 0)
    try:
        if args.command == "estimate":
            return _estimate(args)
        if args.command == "demo":
            return _demo(args)
        if args.command == "bench":
            return _bench(args)
        if args.command == "matrix":
            return _matrix(args)
        return _bounds()
    except (NeuralMIError, OSError) as err:  # the user's input, settings or files (missing, unwritable, disk full)
        if args.debug:
            traceback.print_exc()
        print(f"neuralmi: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as err:  # a bug: one line unless --debug
        if args.debug:
            traceback.print_exc()
        print(
            f"neuralmi: internal error, please report it: {type(err).__name__}: {_one_line(err)} "
            "(rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _one_line(err: BaseException) -> str:
    """An exception's message on one line (an OSError names its file)."""
    if isinstance(err, OSError) and err.strerror and err.filename:
        text = f"{err.filename}: {err.strerror}"
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
