"""Optimizers, learning-rate schedules and gradient clipping.

>>> from chainrule import optim
>>> opt = optim.Adam(model.parameters(), lr=1e-3)
>>> scheduler = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
"""

from chainrule.optim import lr_scheduler
from chainrule.optim.adadelta import AdaDelta
from chainrule.optim.adagrad import AdaGrad
from chainrule.optim.adam import Adam, AdamW
from chainrule.optim.clip import clip_grad_norm, clip_grad_value
from chainrule.optim.lr_scheduler import (
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LinearWarmup,
    MultiStepLR,
    OneCycleLR,
    PolynomialLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)
from chainrule.optim.optimizer import Optimizer
from chainrule.optim.rmsprop import RMSprop
from chainrule.optim.sgd import SGD

Adagrad = AdaGrad  # PyTorch's spelling
Adadelta = AdaDelta
clip_grad_norm_ = clip_grad_norm  # torch.nn.utils' names
clip_grad_value_ = clip_grad_value

__all__ = [
    "SGD",
    "AdaDelta",
    "AdaGrad",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "ExponentialLR",
    "LambdaLR",
    "LinearLR",
    "LinearWarmup",
    "MultiStepLR",
    "OneCycleLR",
    "Optimizer",
    "PolynomialLR",
    "RMSprop",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
    "clip_grad_norm",
    "clip_grad_norm_",
    "clip_grad_value",
    "clip_grad_value_",
    "lr_scheduler",
]
