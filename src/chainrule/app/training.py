"""The training and evaluation loop behind ``chainrule train`` and ``chainrule eval``.

``Trainer(config, out_dir).run()`` trains a classifier and writes into ``out_dir``:
``final.safetensors`` and ``best.safetensors`` (model and optimizer state,
epoch, configuration), ``metrics.csv`` (a row per epoch), ``curves.png`` and
``config.json``. Runs are repeatable: the seed fixes NumPy's global RNG (weight
initialisation, dropout) and each epoch's shuffle, per epoch, so a run resumed
from a checkpoint continues with the very numbers it would have had::

    summary = Trainer(TrainConfig(epochs=5), "runs/try").run()
    summary["test_acc"]          # 0.98...

Under mpiexec (``world``, see ``chainrule.app.parallel``) each rank trains on its share
of every global batch and only rank 0 writes; a checkpoint is the same whatever the
number of ranks, so a run may resume on another number.
"""

import dataclasses
import math
import os
import threading
import time

import numpy as np

import chainrule.functions as F
from chainrule import backend, optim
from chainrule.app import builders
from chainrule.app.builders import ConfigError
from chainrule.app.evaluation import confusion_matrix, correct_count, labels_of, predict
from chainrule.app.parallel import World
from chainrule.app.runfiles import plot_confusion, plot_curves, run_dir, write_json, write_metrics
from chainrule.app.runtime import blas_threads, ctrl_c_between_steps, progress_bar
from chainrule.core import Variable, is_anomaly_enabled
from chainrule.serialization import load, save

FORMAT = "chainrule.train/1"
CHECKPOINT_KEYS = ("format", "epoch", "config", "model", "optimizer", "history")
METRICS = ("epoch", "train_loss", "train_acc", "test_acc", "lr", "seconds")
# per dataset: fast on 2 cores (digits: ~98% test accuracy in a few seconds)
DEFAULTS = {
    "digits": {"epochs": 20, "batch_size": 32, "lr": 2e-3},
    "spiral": {"epochs": 200, "batch_size": 32, "lr": 1e-2},
    "mnist": {"epochs": 5, "batch_size": 64, "lr": 1e-3},
    "fashion-mnist": {"epochs": 10, "batch_size": 64, "lr": 1e-3},
}


@dataclasses.dataclass
class TrainConfig:
    """Every setting of a training run; ``config.json`` is this, written out."""

    dataset: str = "digits"
    model: str = "mlp"
    hidden: list = dataclasses.field(default_factory=lambda: [256])
    channels: int = 16
    epochs: int = None  # None: the dataset's default in DEFAULTS
    batch_size: int = None  # the global batch: over N ranks, each takes batch_size / N
    lr: float = None
    optimizer: str = "adam"
    weight_decay: float = None
    scheduler: str = "cosine"
    seed: int = 0
    device: str = "cpu"
    threads: int = 1
    data_dir: str = None
    download: bool = False

    def __post_init__(self):
        defaults = DEFAULTS.get(self.dataset, DEFAULTS["digits"])
        for name, value in defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, value)

    @classmethod
    def from_dict(cls, values):
        """A config from a dict (a checkpoint's or config.json's), unknown keys refused."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ConfigError(f"unknown settings {', '.join(unknown)} in the configuration")
        return cls(**values)


class CheckpointError(ValueError):
    """A checkpoint that is unreadable, not a training checkpoint, or fits another model."""


class Interrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C; ``path`` is the checkpoint saved on the way out."""

    def __init__(self, path, epoch):
        super().__init__(f"interrupted during epoch {epoch}; saved {path} (resume with: "
                         f"chainrule train --resume {path})")
        self.path = path


class Diverged(RuntimeError):
    """The training loss became NaN or infinite; the last good weights were saved at ``path``.

    ``what`` says what was found: a loss, a parameter, or (in anomaly mode) the operation.
    """

    def __init__(self, what, epoch, step, lr, path, good_epoch):
        hint = "lower --lr"
        if not is_anomaly_enabled():
            hint += ", or run with --detect-anomaly to find the operation that made it,"
        super().__init__(
            f"training diverged: {what} at epoch {epoch}, step {step} with learning rate "
            f"{lr:g}; {hint} and resume from the weights of epoch {good_epoch}, kept in {path}")
        self.path, self.epoch, self.step = path, epoch, step


class _NonFinite(Exception):
    """Raised inside an epoch; ``run`` saves the last good state and turns it into Diverged."""


def check_device(device):
    """Refuse an unknown device, or CUDA without CuPy and a GPU, in one sentence."""
    try:
        kind, _ = backend.parse_device(device)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if kind == "cuda" and not backend.gpu_available():
        raise ConfigError(f"--device {device}: no usable CUDA GPU was found "
                          f"({backend.GPU_EXTRA_HINT})")


def make_model(config, example_shape, device=None):
    """The model ``config`` describes, for examples of ``example_shape``, on ``device``
    (default: the configuration's)."""
    n_classes = builders.CLASSES.get(config.dataset)
    if n_classes is None:
        raise ConfigError(f"unknown dataset {config.dataset!r}; choose one of "
                          f"{', '.join(builders.DATASETS)}")
    model = builders.build_model(config.model, example_shape, n_classes, config.hidden,
                               config.channels)
    return model.to(device or config.device)


class Trainer:
    """A model, its optimizer and schedule, the run's history, and where it all is saved."""

    def __init__(self, config, out_dir=None, log=print, world=None):
        self.world = world = world or World()
        self.device = world.device(config.device)  # a GPU of its own for each rank of a node
        check_device(self.device)
        if config.scheduler not in ("cosine", "none"):
            raise ConfigError(f"unknown scheduler {config.scheduler!r}; choose cosine or none")
        for name in ("epochs", "batch_size", "channels"):
            if getattr(config, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, "
                                  f"got {getattr(config, name)}")
        world.check_batch(config.batch_size)
        self.config, self.log = config, log
        self.stop_requested = threading.Event()  # set by Ctrl-C while run() trains
        np.random.seed(config.seed)  # weight initialisation draws from the global RNG
        self.train_set, self.test_set = builders.load_datasets(
            config.dataset, config.data_dir, config.download)
        self.model = make_model(config, self.train_set[0][0].shape, self.device)
        self.optimizer = builders.build_optimizer(config.optimizer, self.model.parameters(),
                                                config.lr, config.weight_decay)
        self.scheduler = None
        if config.scheduler == "cosine":
            self.scheduler = optim.CosineAnnealingLR(self.optimizer, T_max=config.epochs)
        self.epoch, self.best, self.best_state, self.resumed = 0, -1.0, None, None
        self.good_state = None  # the state after the last epoch whose numbers were all finite
        self.step = 0  # the optimizer step under way in the current epoch, from 1
        # created last, so that bad settings or missing data leave no empty folder behind
        self.out_dir = None if out_dir is None or not world.main else run_dir(out_dir)
        self.history = {name: [] for name in METRICS}
        self.net = self.model  # what the steps call: the model, wrapped by run() for the ranks

    def restore(self, state, path):
        """Continue from a checkpoint read by ``read_checkpoint``.

        The schedule keeps its position but spans this run's ``epochs``, which
        may be more than the checkpoint's run had.
        """
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None and state.get("scheduler"):
                self.scheduler.load_state_dict({**state["scheduler"],
                                                "T_max": self.config.epochs})
        except (ValueError, KeyError, TypeError) as error:
            raise CheckpointError(f"checkpoint {path} does not fit this {self.config.model} "
                                  f"model and {self.config.optimizer} optimizer "
                                  f"({_one_line(error)})") from None
        self.epoch, self.resumed = int(state["epoch"]), os.fspath(path)
        self.history = {name: list(state["history"].get(name, [])) for name in METRICS}
        # the best weights this run holds so far are the checkpoint's own
        self.best = self.history["test_acc"][-1] if self.history["test_acc"] else -1.0
        self.best_state = state

    def run(self):
        """Train the remaining epochs; Ctrl-C saves ``interrupted.safetensors`` and raises.

        A loss (or weights) turning NaN or infinite stops the run at once: the state of the
        last good epoch is saved as ``last-good.safetensors`` and Diverged is raised.
        """
        config, started, main = self.config, time.perf_counter(), self.world.main
        if main:
            write_json(os.path.join(self.out_dir, "config.json"),
                       {**dataclasses.asdict(config), "out": self.out_dir, "resume": self.resumed,
                        "ranks": self.world.size})
        if self.net is self.model:  # once: after restore, rank 0's weights go to all
            self.net = self.world.wrap(self.model)
        self.good_state = self.state()
        try:
            with blas_threads(config.threads), ctrl_c_between_steps() as self.stop_requested:
                for epoch in range(self.epoch + 1, config.epochs + 1):
                    self.train_epoch(epoch)
        except (_NonFinite, FloatingPointError) as bad:  # the latter from anomaly mode
            path = self.save("last-good.safetensors", self.good_state)
            self.save_best()
            what = " ".join(str(bad).split()).rstrip(".")
            raise Diverged(what, self.epoch + 1, self.step, self.optimizer.param_groups[0]["lr"],
                           path, self.good_state["epoch"]) from None
        except KeyboardInterrupt:
            path = self.save("interrupted.safetensors")
            self.save_best()
            if main:
                write_metrics(self.out_dir, self.history)
            raise Interrupted(path, self.epoch + 1) from None
        self.save("final.safetensors")
        self.save_best()
        if main:
            plot_curves(os.path.join(self.out_dir, "curves.png"), self.history, self.log)
        return {"out_dir": self.out_dir, "epochs": self.epoch,
                "test_acc": self.history["test_acc"][-1] if self.history["test_acc"] else None,
                "best_test_acc": self.best, "seconds": time.perf_counter() - started}

    def train_epoch(self, epoch):
        """One pass over the training set, then the test accuracy, the log line and files."""
        config, started = self.config, time.perf_counter()
        world = self.world  # dropout masks: the same when resumed, another on each rank
        np.random.seed([config.seed, epoch] + ([world.rank] if world.size > 1 else []))
        loader = world.train_loader(self.train_set, config.batch_size, config.seed, epoch)
        lr = self.optimizer.param_groups[0]["lr"]
        self.model.train()
        loss, train_acc = self.steps(loader, f"epoch {epoch}/{config.epochs}")
        bad = next((name for name, p in self.model.named_parameters()
                    if not backend.get_array_module(p.data).isfinite(p.data).all()), None)
        if bad is not None:  # the last step's update overflowed
            raise _NonFinite(f"parameter {bad} became non-finite")
        if self.scheduler is not None:
            self.scheduler.step()
        correct, total = world.sum(*correct_count(self.model, world.shard(self.test_set),
                                                  self.device))
        test_acc = correct / total
        self.epoch = epoch
        row = (epoch, loss, train_acc, test_acc, lr, time.perf_counter() - started)
        for name, value in zip(METRICS, row):
            self.history[name].append(value)
        self.log(f"epoch {epoch:>3}/{config.epochs}  train loss {loss:.4f}  "
                 f"train acc {train_acc:.2%}  test acc {test_acc:.2%}  {row[-1]:.1f} s")
        if world.main:
            write_metrics(self.out_dir, self.history)
        # kept in memory: written once at the end (or on divergence), not every epoch
        self.good_state = self.state()
        if test_acc > self.best:
            self.best, self.best_state = test_acc, self.good_state

    def steps(self, loader, desc):
        """The optimizer steps of one epoch: ``(mean loss, accuracy)`` on the batches seen."""
        device, seen, total_loss, correct = self.device, 0, 0.0, 0
        bar = progress_bar(len(self.train_set), desc) if self.world.main else None
        try:
            for self.step, (xb, tb) in enumerate(loader, 1):
                x = Variable(backend.to_device(xb, device), requires_grad=False)
                t = backend.to_device(tb, device)
                y = self.net(x)
                loss = F.softmax_cross_entropy(y, t)
                value = float(loss.item())
                self.halt_before_step(value)  # no update from a broken loss; whole steps only
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                n = len(tb)
                seen, total_loss = seen + n, total_loss + value * n
                correct += int((y.data.argmax(axis=1) == t).sum())
                if bar is not None:
                    bar.set_postfix(loss=f"{total_loss / seen:.4f}", refresh=False)
                    bar.update(n * self.world.size)
        finally:  # a stopped epoch leaves no half-drawn bar behind
            if bar is not None:
                bar.close()
        total_loss, correct, seen = self.world.sum(total_loss, correct, seen)
        return total_loss / max(seen, 1), correct / max(seen, 1)

    def halt_before_step(self, value):
        """Stop for a non-finite loss (_NonFinite) or Ctrl-C (KeyboardInterrupt), if any rank must.

        The ranks decide together, so they all stop at the same step: a rank leaving
        alone would leave the others waiting for its gradients.
        """
        bad, stop = not math.isfinite(value), self.stop_requested.is_set()
        if self.world.size > 1:
            bad, stop = (flag > 0 for flag in self.world.sum(bad, stop))
        if bad:
            where = value if not math.isfinite(value) else "non-finite on another rank"
            raise _NonFinite(f"the loss became {where}")
        if stop:
            raise KeyboardInterrupt

    def save_best(self):
        if self.best_state is not None and self.world.main:
            self.save("best.safetensors", self.best_state)

    def state(self):
        """Everything a checkpoint holds, as copies: training on does not change it."""
        return {"format": FORMAT, "epoch": self.epoch,
                "config": dataclasses.asdict(self.config),
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler else {},
                "history": {name: list(values) for name, values in self.history.items()}}

    def save(self, name, state=None):
        """Write a checkpoint (``state`` or the current one) into the run's folder (rank 0)."""
        if not self.world.main:
            return None
        path = os.path.join(self.out_dir, name)
        save(self.state() if state is None else state, path)
        return path


def read_checkpoint(path):
    """The state saved by ``Trainer.save``, or a CheckpointError in one sentence."""
    try:
        state = load(path)
    except (OSError, ValueError, ImportError) as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {_one_line(error)}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a chainrule training checkpoint (it was not "
                              "written by chainrule train)")
    missing = [key for key in CHECKPOINT_KEYS if key not in state]
    if missing or not isinstance(state["config"], dict):
        raise CheckpointError(f"checkpoint {path} is incomplete (missing {', '.join(missing)})")
    return state


def _one_line(error):
    return " ".join(str(error).split())


def evaluate_checkpoint(path, out=None, data_dir=None, download=False, device="cpu",
                        log=print, world=None):
    """Test accuracy and confusion matrix of a checkpoint, the matrix also drawn as a PNG.

    The PNG goes next to the checkpoint, or into ``out``. Returns
    ``(accuracy, matrix, png_path)``; png_path is None without matplotlib. Under mpiexec
    (``world``) the two steps run apart, as ``chainrule eval`` does: ``load_evaluation``
    inside ``world.together`` then ``evaluate``.
    """
    world = world or World()
    return evaluate(*load_evaluation(path, data_dir, download, world.device(device)), path,
                    out, log, world)


def load_evaluation(path, data_dir=None, download=False, device="cpu"):
    """``(model, test_set, config)`` of the checkpoint ``path``: its model holds the saved
    weights on ``device``; the test set is the one of the checkpoint's dataset."""
    state = read_checkpoint(path)
    config = TrainConfig.from_dict(state["config"])
    config.device = device
    check_device(device)
    test_set = builders.load_dataset(config.dataset, False, data_dir or config.data_dir,
                                   download)
    model = make_model(config, test_set[0][0].shape)
    try:
        model.load_state_dict(state["model"])
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"checkpoint {path} does not fit its own {config.model} "
                              f"configuration ({_one_line(error)})") from None
    return model, test_set, config


def evaluate(model, test_set, config, path, out=None, log=print, world=None):
    """``(accuracy, matrix, png_path)`` of ``model`` on ``test_set`` (see evaluate_checkpoint).

    Each rank of ``world`` predicts its shard of the test set (every size-th example) and
    the ranks' confusion matrices are summed, so every rank returns the whole matrix; only
    rank 0 draws it (the others return png_path None).
    """
    world = world or World()
    shard = world.shard(test_set)
    classes = builders.CLASSES[config.dataset]
    if len(shard):
        matrix = confusion_matrix(labels_of(shard), predict(model, shard, config.device), classes)
    else:  # more ranks than test examples leaves some shards empty
        matrix = np.zeros((classes, classes), dtype=np.int64)
    matrix = world.sum_counts(matrix)
    png = None
    if world.main:
        folder = run_dir(out or os.path.dirname(os.path.abspath(path)))
        stem = os.path.splitext(os.path.basename(path))[0]
        png = plot_confusion(os.path.join(folder, f"{stem}-confusion.png"), matrix,
                             f"{config.dataset} {config.model}: {stem}", log)
    return float(matrix.trace() / matrix.sum()), matrix, png
