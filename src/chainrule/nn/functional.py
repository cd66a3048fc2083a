"""``chainrule.nn.functional`` is ``chainrule.functions`` under PyTorch's path, so
``import torch.nn.functional as F`` ports as ``import chainrule.nn.functional as F``.

>>> import chainrule.nn.functional as F
>>> F.relu is chainrule.functions.relu
True
"""

import chainrule.functions as _functions

__all__ = list(_functions.__all__)


def __getattr__(name):
    return getattr(_functions, name)


def __dir__():
    return __all__
