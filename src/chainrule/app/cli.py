"""The ``chainrule`` command: train, eval, info and graph.

Each subcommand parses its options and calls code that lives elsewhere
(``chainrule.app.training``, ``chainrule.viz``, ``chainrule.viz.expr``). A user error
(an unknown name, a missing file, a bad checkpoint) is one line on stderr and
a non-zero exit status, never a traceback::

    chainrule train --epochs 5 --out runs/try
    chainrule train --ranks 4 --batch-size 128     # or: mpiexec -n 4 chainrule train ...
    chainrule eval runs/try/best.safetensors       # --ranks 4, or mpiexec -n 4 chainrule eval
    chainrule graph "(apple*apple_num + orange*orange_num)*tax" --out apple.svg \\
        --set apple=100 apple_num=2 orange=150 orange_num=3 tax=1.1
"""

import argparse
import functools
import os
import sys
import warnings

from chainrule import __version__
from chainrule.app.parallel import environment_rank

INTERRUPTED = 130  # the shell's code for a process stopped by Ctrl-C
# bad input described in one sentence: files, names, values, missing extras;
# anything else is a bug in chainrule, and its traceback is what a report needs
USER_ERRORS = (ValueError, OSError, ImportError, RuntimeError)


class UsageError(Exception):
    """Bad command-line usage, reported like argparse's own errors (exit status 2)."""


class Parser(argparse.ArgumentParser):
    """argparse, but an error is one sentence on stderr instead of usage plus message."""

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


def main(argv=None):
    """Run the command line ``argv`` (default: sys.argv[1:]); returns the exit status."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parser.parse_args(argv)
        args.argv = argv
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status = args.run(args) or 0
        for warning in caught:  # one clean line each, not Python's file:line format
            print(f"note: {warning.message}", file=sys.stderr)
        return status
    except UsageError as error:
        if environment_rank() == 0:  # every rank of a job has the same command line
            print(f"chainrule: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:  # training.Interrupted says where it saved the run
        if environment_rank() == 0:  # the ranks stop together; rank 0 says where it saved
            print(f"chainrule: {stop or 'interrupted'}", file=sys.stderr)
        return INTERRUPTED
    except USER_ERRORS as error:
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"chainrule {args.command}: error: {message}", file=sys.stderr)
        return 1


def build_parser():
    parser = Parser(prog="chainrule", description="Train, evaluate and draw with chainrule.")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    _add_train(commands.add_parser("train", help="train a classifier (default: bundled digits)"))
    _add_eval(commands.add_parser("eval", help="accuracy and confusion matrix of a checkpoint"))
    info = commands.add_parser("info", help="versions, array backends, devices and extras")
    info.set_defaults(run=run_info)
    _add_graph(commands.add_parser("graph", help="draw the graph of an expression"))
    return parser


def _add_train(p):
    from chainrule.app.builders import DATASETS, MODELS, OPTIMIZERS

    p.add_argument("--dataset", choices=DATASETS, help="default: digits (bundled)")
    p.add_argument("--data-dir", help="folder of the MNIST-style files (default: the cache)")
    p.add_argument("--download", action="store_true", default=None,
                   help="download MNIST-style files that are missing")
    p.add_argument("--model", choices=MODELS, help="default: mlp")
    p.add_argument("--hidden", type=int, nargs="+", metavar="N",
                   help="hidden layer sizes of the classifier (default: 256)")
    p.add_argument("--channels", type=int, metavar="N", help="cnn filters (default: 16)")
    p.add_argument("--epochs", type=int, help="default: 20 for digits (see chainrule.app.training)")
    p.add_argument("--batch-size", type=int,
                   help="default: 32 for digits; over N ranks, the global batch (N shares)")
    p.add_argument("--lr", type=float, help="learning rate (default: 0.002 for digits)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help="default: adam")
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--scheduler", choices=("cosine", "none"), help="default: cosine")
    p.add_argument("--seed", type=int, help="same seed, same numbers (default: 0)")
    p.add_argument("--device", help="cpu or cuda (default: cpu)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="BLAS threads, 0 for BLAS's own default (default: 1)")
    p.add_argument("--out", help="output folder (default: a new folder under runs/)")
    p.add_argument("--resume", metavar="CHECKPOINT",
                   help="continue from a checkpoint (written with any number of ranks)")
    p.add_argument("--ranks", type=int, metavar="N",
                   help="train data-parallel on N processes started with mpiexec, "
                        "--batch-size being the global batch (needs the [mpi] extra)")
    p.add_argument("--detect-anomaly", action="store_true",
                   help="check every operation for NaN and inf and name the first that makes "
                        "one (slower; see chainrule.detect_anomaly)")
    p.set_defaults(run=run_train)


def _add_eval(p):
    p.add_argument("checkpoint")
    p.add_argument("--out", help="folder for the confusion matrix PNG (default: beside it)")
    p.add_argument("--data-dir", help="folder of the MNIST-style files")
    p.add_argument("--download", action="store_true")
    p.add_argument("--device", default="cpu")
    p.add_argument("--ranks", type=int, metavar="N",
                   help="evaluate on N processes started with mpiexec, each a share of the "
                        "test set (needs the [mpi] extra)")
    p.set_defaults(run=run_eval)


def _add_graph(p):
    p.add_argument("expression", help='e.g. "(apple*apple_num + orange*orange_num)*tax"')
    p.add_argument("--set", nargs="+", action="extend", default=[], metavar="NAME=VALUE",
                   help="a value for each name: a number or comma-separated numbers")
    p.add_argument("--out", help="file to write: .svg, .png or .dot (default: DOT on stdout)")
    p.add_argument("--format", choices=("dot", "svg", "png"), help="default: from --out")
    p.add_argument("--no-grads", action="store_true", help="draw before backward()")
    p.add_argument("--leaf-grads", action="store_true",
                   help="label only the inputs' gradients, not every node's")
    p.add_argument("--html", metavar="FILE",
                   help="also write the explorer: one page stepping through forward and backward")
    p.add_argument("--trace", action="store_true",
                   help="print the backward steps, one line each, with the chain rule's numbers")
    p.set_defaults(run=run_graph)


def run_train(args):
    from chainrule import detect_anomaly
    from chainrule.app import allocator, parallel, training
    from chainrule.app.runfiles import run_dir

    world = parallel.World.join()
    if _relaunch(args, world):
        parallel.World(size=args.ranks).check_batch(_train_config(args)[0].batch_size)
        return _launch(args)
    allocator.keep_freed_memory()  # a training program: reuse freed buffers step after step
    # one rank that cannot start stops them all, and one reports it; then rank 0's folder
    trainer = world.together(lambda: _trainer(args, world), USER_ERRORS)
    config = trainer.config
    trainer.out_dir = world.together(
        lambda: run_dir(args.out, config.dataset, config.model) if world.main else None,
        USER_ERRORS)
    say = _flushing_print if world.main else _silent
    ranks = f" on {world.size} ranks" if world.size > 1 else ""
    say(f"training {config.model} on {config.dataset} ({len(trainer.train_set)} train, "
        f"{len(trainer.test_set)} test){ranks} for epochs {trainer.epoch + 1}..{config.epochs}; "
        f"writing {trainer.out_dir}")
    trainer.log = say
    stops = (training.Interrupted, training.Diverged)  # decided by all ranks together
    try:
        with world.abort_on_error(stops, USER_ERRORS), detect_anomaly(args.detect_anomaly):
            summary = trainer.run()
    except stops as stop:
        if world.main:
            raise
        raise parallel.Quiet(INTERRUPTED if isinstance(stop, KeyboardInterrupt) else 1) from None
    if world.main:
        files = ", ".join(sorted(os.listdir(summary["out_dir"])))
        say(f"done in {summary['seconds']:.1f} s: test accuracy {summary['test_acc']:.2%} "
            f"(best {summary['best_test_acc']:.2%}); {summary['out_dir']} holds {files}")
    return 0


def _relaunch(args, world):
    """Whether ``--ranks N`` asks this process (outside mpiexec) to start N ranks instead."""
    if args.ranks is None or args.ranks == world.size:
        return False
    if world.size > 1:
        raise UsageError(f"--ranks {args.ranks} inside an mpiexec job of {world.size} "
                         "ranks; give one or the other")
    if args.ranks < 1:
        raise UsageError(f"--ranks must be at least 1, got {args.ranks}")
    return True


def _launch(args):
    """This command line, less ``--ranks``, on ``--ranks`` ranks under mpiexec."""
    from chainrule.app import parallel

    rest = args.argv[args.argv.index(args.command) + 1:]
    return parallel.launch(args.ranks, parallel.without_ranks(rest), args.command)


def _train_config(args):
    """The run's TrainConfig (the checkpoint's, overridden by the options) and the checkpoint."""
    from chainrule.app import training

    settings = {name: value for name, value in vars(args).items()
                if name in {f for f in training.TrainConfig.__dataclass_fields__}
                and value is not None}
    if not args.resume:
        return training.TrainConfig(**settings), None
    state = training.read_checkpoint(args.resume)
    return training.TrainConfig.from_dict({**state["config"], **settings}), state


def _trainer(args, world):
    """The Trainer of this command line on this rank, restored from ``--resume``."""
    from chainrule.app import training

    config, state = _train_config(args)
    trainer = training.Trainer(config, world=world)
    if state is not None:
        trainer.restore(state, args.resume)
    return trainer


def _flushing_print(line):
    print(line, flush=True)  # a line per epoch shows up at once in logs and pipes


def _silent(line):
    """The log of the ranks other than 0: rank 0 speaks for them all."""


def run_eval(args):
    from chainrule.app import parallel, training
    from chainrule.app.runfiles import format_confusion

    world = parallel.World.join()
    if _relaunch(args, world):
        return _launch(args)
    # every rank loads the checkpoint; one that cannot is reported once and stops them all
    loaded = world.together(lambda: training.load_evaluation(
        args.checkpoint, args.data_dir, args.download, world.device(args.device)), USER_ERRORS)
    with world.abort_on_error(plain=USER_ERRORS, command="eval"):
        acc, matrix, png = training.evaluate(*loaded, args.checkpoint, args.out, world=world)
    if not world.main:
        return 0
    ranks = f" on {world.size} ranks" if world.size > 1 else ""
    print(f"test accuracy {acc:.2%} ({int(matrix.trace())}/{int(matrix.sum())}){ranks}")
    print("confusion matrix (rows: true class, columns: predicted class):")
    print(format_confusion(matrix))
    if png is not None:
        print(f"wrote {png}")
    return 0


def run_info(args):
    for line in describe_system():
        print(line)
    return 0


EXTRAS = {"gpu": ["cupy"], "viz": ["graphviz"],
          "train": ["tqdm", "matplotlib", "safetensors", "threadpoolctl"], "mpi": ["mpi4py"],
          "test": ["pytest", "hypothesis", "xdist"]}


def describe_system():
    """Lines for ``chainrule info``: versions, array backends, devices, installed extras."""
    import platform

    from chainrule import backend
    from chainrule.app import parallel

    lines = [f"chainrule {__version__}", f"python {platform.python_version()} ({sys.executable})",
             f"numpy {_version('numpy')}", "", "array backends and devices:", "  numpy: cpu"]
    if _version("cupy") is None:
        lines.append(f"  cupy: not installed ({backend.GPU_EXTRA_HINT})")
    elif not backend.gpu_available():
        lines.append(f"  cupy {_version('cupy')}: installed, but no usable CUDA GPU was found")
    else:
        lines.append(f"  cupy {_version('cupy')}: " + ", ".join(_gpu_names()))
    lines += ["", f"mpi: {parallel.describe_mpi()}"]
    lines += ["", "extras (pip install \"chainrule[NAME]\"):"]
    for extra, packages in EXTRAS.items():
        found = [f"{p} {_version(p)}" for p in packages if _version(p)]
        missing = [p for p in packages if not _version(p)]
        state = "installed" if not missing else f"missing {', '.join(missing)}"
        lines.append(f"  {extra:<6} {state}" + (f" ({', '.join(found)})" if found else ""))
    import shutil

    dot = shutil.which("dot") or "not found (apt-get install graphviz, or brew install graphviz)"
    lines.append(f"  graphviz program dot: {dot}")
    return lines


def _version(module):
    """The installed version of the package providing ``module``, or None; never imports it."""
    import importlib.metadata
    import importlib.util

    if importlib.util.find_spec(module) is None:
        return None
    dists = _distributions().get(module, [module])
    for dist in dists:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "(unknown version)"


@functools.cache
def _distributions():
    """Module -> distributions, read once: each reading scans every installed package
    (0.4 s here, and ``chainrule info`` asks for a dozen modules)."""
    import importlib.metadata

    return importlib.metadata.packages_distributions()


def _gpu_names():
    """``cuda:0 NVIDIA H100 ...`` for every CUDA device CuPy sees."""
    from chainrule import backend

    cp = backend.import_cupy()
    names = []
    for i in range(cp.cuda.runtime.getDeviceCount()):
        name = cp.cuda.runtime.getDeviceProperties(i)["name"]
        names.append(f"cuda:{i} {name.decode() if isinstance(name, bytes) else name}")
    return names


def run_graph(args):
    from chainrule import viz
    from chainrule.viz import drawing, expr

    values = parse_settings(args.set)
    if args.out is not None and args.format is None:
        suffix = os.path.splitext(args.out)[1].lower()
        if suffix not in drawing.SUFFIXES:
            raise UsageError(f"--out {args.out}: cannot tell the format from {suffix or 'no'} "
                             "suffix; use .svg, .png, .dot or give --format")
    if args.no_grads and (args.html or args.trace):
        raise UsageError(f"--no-grads leaves nothing to {'explore' if args.html else 'trace'}: "
                         "drop one of them")
    with viz.record() as trace:
        y, inputs = expr.evaluate(args.expression, values)
        unused = [name for name in values if name not in inputs]
        if unused:
            raise UsageError(f"--set gives {', '.join(unused)}, which the expression does not use")
        if not args.no_grads:
            y.backward()
    print(f"{args.expression.strip()} = {viz.format_array(y.data)}")
    if not args.no_grads:
        for name, v in inputs.items():
            print(f"  d/d{name} = {viz.format_array(v.grad.data)}")
    if args.trace:
        for line in trace.lines():
            print(line)
    if args.html:
        viz.explore(y, path=args.html, trace=trace, title=f"chainrule explorer: "
                    f"{args.expression.strip()}")
        print(f"wrote {os.path.abspath(args.html)}")
    grads = False if args.no_grads else "leaves" if args.leaf_grads else True
    if args.out is None and args.format in (None, "dot"):
        if not (args.html or args.trace):
            print(viz.draw(y, grads=grads).dot, end="")
        return 0
    if args.out is None:
        raise UsageError(f"--format {args.format} needs --out FILE")
    viz.draw(y, grads=grads, path=args.out, format=args.format)
    print(f"wrote {os.path.abspath(args.out)}")
    return 0


def parse_settings(pairs):
    """``["apple=100", "x=1,2"]`` -> ``{"apple": 100.0, "x": [1.0, 2.0]}``."""
    values = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.isidentifier():
            raise UsageError(f"--set takes NAME=VALUE, got {pair!r}")
        try:
            numbers = [float(part) for part in text.split(",")]
        except ValueError:
            raise UsageError(f"--set {name}: {text!r} is not a number") from None
        values[name] = numbers[0] if len(numbers) == 1 and "," not in text else numbers
    return values


if __name__ == "__main__":
    sys.exit(main())
