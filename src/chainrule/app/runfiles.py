"""The files a training run leaves behind: its folder, config.json, metrics.csv and plots.

Plots use matplotlib's Agg canvas directly (no pyplot, so no window and no
global figure state) and are skipped with a note when matplotlib is missing.
"""

import csv
import datetime
import json
import os
import tempfile


def run_dir(out=None, dataset="digits", model="mlp"):
    """``out``, or a new ``runs/20261123-101500-digits-mlp``; created and checked writable."""
    if out is None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        base = os.path.join("runs", f"{stamp}-{dataset}-{model}")
        out, n = base, 1
        while os.path.exists(out):  # two runs started in the same second
            n += 1
            out = f"{base}-{n}"
    try:
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass  # a folder we may list but not write into fails here, not after an epoch
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise OSError(f"cannot write to the output folder {out} ({reason})") from None
    return out


def write_json(path, values):
    """``values`` as indented JSON, replacing the file at once."""
    _replace(path, json.dumps(values, indent=2) + "\n")


def write_metrics(out_dir, history):
    """metrics.csv: a header, then a row per epoch of ``history`` (a dict of columns)."""
    names = list(history)
    rows = zip(*(history[name] for name in names))
    lines = [",".join(names)]
    lines += [",".join(_cell(v) for v in row) for row in rows]
    _replace(os.path.join(out_dir, "metrics.csv"), "\n".join(lines) + "\n")


def read_metrics(path):
    """metrics.csv back as a list of dicts of floats."""
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _cell(value):
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def _replace(path, text):
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``."""
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _figure(width, height):
    """A matplotlib Figure on an Agg canvas, or None (with a note) without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def plot_curves(path, history, log=print):
    """curves.png: train loss, then train and test accuracy, per epoch."""
    figure = _figure(9, 3.5)
    if figure is None:
        log('note: curves.png skipped: plots need matplotlib (pip install "chainrule[train]")')
        return None
    epochs = history["epoch"]
    loss_ax, acc_ax = figure.subplots(1, 2)
    loss_ax.plot(epochs, history["train_loss"], marker="o", label="train")
    loss_ax.set(title="loss", xlabel="epoch", ylabel="cross-entropy")
    acc_ax.plot(epochs, history["train_acc"], marker="o", label="train")
    acc_ax.plot(epochs, history["test_acc"], marker="o", label="test")
    acc_ax.set(title="accuracy", xlabel="epoch", ylabel="accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    figure.tight_layout()
    figure.savefig(path)
    return path


def plot_confusion(path, matrix, title="confusion matrix", log=print):
    """A PNG of ``matrix`` (true class down, predicted class across) with the counts."""
    n = len(matrix)
    figure = _figure(1.2 + 0.45 * n, 1.0 + 0.45 * n)
    if figure is None:
        log('note: the confusion matrix PNG was skipped: it needs matplotlib '
            '(pip install "chainrule[train]")')
        return None
    ax = figure.add_subplot()
    ax.imshow(matrix, cmap="Blues")
    ax.set(title=title, xlabel="predicted", ylabel="true", xticks=range(n), yticks=range(n))
    top = matrix.max() if matrix.size else 0
    for i in range(n):
        for j in range(n):
            ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if matrix[i, j] > top / 2 else "black")
    figure.tight_layout()
    figure.savefig(path)
    return path


def format_confusion(matrix):
    """The matrix as text: a header of predicted classes, a row per true class."""
    n = len(matrix)
    width = max(len(str(int(matrix.max()))) if matrix.size else 1, len(str(n - 1)), 3) + 1
    lines = ["true\\pred" + "".join(f"{j:>{width}}" for j in range(n))]
    lines += [f"{i:>9}" + "".join(f"{int(c):>{width}}" for c in row)
              for i, row in enumerate(matrix)]
    return "\n".join(lines)
