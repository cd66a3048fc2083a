"""The parts the ``chainrule train`` command assembles: datasets, models and optimizers.

Each builder takes plain values (names, sizes, rates) and refuses an unknown
name with one sentence that lists the known ones::

    train_set, test_set = load_datasets("digits")
    model = build_model("mlp", train_set[0][0].shape, 10, hidden=[256])
    opt = build_optimizer("adam", model.parameters(), lr=2e-3)
"""

import math

from chainrule import data, nn, optim

DATASETS = ("digits", "mnist", "fashion-mnist", "spiral")
MODELS = ("mlp", "cnn")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
CLASSES = {"digits": 10, "mnist": 10, "fashion-mnist": 10, "spiral": 3}


class ConfigError(ValueError):
    """A setting of the training command that cannot work (bad name, size or combination)."""


def load_datasets(name, data_dir=None, download=False):
    """``(train_set, test_set)`` of the dataset called ``name`` (see ``load_dataset``)."""
    return (load_dataset(name, True, data_dir, download),
            load_dataset(name, False, data_dir, download))


def load_dataset(name, train=True, data_dir=None, download=False):
    """The training or test split of the dataset called ``name``.

    digits and spiral ship with chainrule; mnist and fashion-mnist are read from
    ``data_dir`` (default: the cache, ``~/.cache/chainrule``), downloaded there
    only when ``download`` is true.
    """
    if name == "digits":
        return data.Digits(train=train)
    if name == "spiral":
        return data.Spiral(train=train)
    if name in ("mnist", "fashion-mnist"):
        kind = data.MNIST if name == "mnist" else data.FashionMNIST
        return kind(data_dir, train=train, download=download)
    raise ConfigError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def build_model(name, input_shape, n_classes, hidden=(256,), channels=16):
    """A fresh model for inputs of ``input_shape`` (one example) and ``n_classes`` outputs.

    mlp: Flatten, then Linear(n, h) + ReLU for each size h in ``hidden``, then
    Linear(h, n_classes). cnn (images (C, H, W) only): two blocks of Conv2d 3x3
    (pad 1) + ReLU + MaxPool2d(2), with ``channels`` then 2 ``channels``
    filters, then the mlp head on the flattened maps.
    """
    hidden = _sizes(hidden, "hidden")
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), *_head(math.prod(input_shape), hidden, n_classes))
    if name == "cnn":
        if len(input_shape) != 3 or min(input_shape[1:]) < 4:
            raise ConfigError(f"the cnn model needs images of shape (C, H, W) with H, W >= 4, "
                              f"but this dataset gives {tuple(input_shape)}; use --model mlp")
        c, h, w = input_shape
        (width,) = _sizes([channels], "channels")
        features = 2 * width * (h // 4) * (w // 4)
        return nn.Sequential(
            nn.Conv2d(c, width, 3, pad=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, pad=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), *_head(features, hidden, n_classes),
        )
    raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")


def _head(n_in, hidden, n_classes):
    """Linear + ReLU per hidden size, then the Linear that gives the class scores."""
    layers = []
    for size in hidden:
        layers += [nn.Linear(n_in, size), nn.ReLU()]
        n_in = size
    return layers + [nn.Linear(n_in, n_classes)]


def _sizes(values, what):
    """A list of positive ints, or a ConfigError naming the option."""
    sizes = [values] if isinstance(values, int) else list(values)
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in sizes):
        raise ConfigError(f"--{what} takes positive integers, got {values!r}")
    return sizes


def build_optimizer(name, params, lr, weight_decay=None):
    """sgd, momentum (SGD with momentum 0.9), adam or adamw over ``params``.

    ``weight_decay`` None keeps each optimizer's own default (0, or 0.01 for AdamW).
    """
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise ConfigError(f"--lr must be a positive number, got {lr!r}")
    extra = {} if weight_decay is None else {"weight_decay": weight_decay}
    if name == "sgd":
        return optim.SGD(params, lr=lr, **extra)
    if name == "momentum":
        return optim.SGD(params, lr=lr, momentum=0.9, **extra)
    if name == "adam":
        return optim.Adam(params, lr=lr, **extra)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, **extra)
    raise ConfigError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
