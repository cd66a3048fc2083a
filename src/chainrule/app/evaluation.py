"""Counting a classifier's right answers: predictions, accuracy and the confusion matrix.

Under mpiexec each rank counts on its shard of the test set and the counts are summed:
``chainrule train`` sums ``correct_count``, ``chainrule eval`` the confusion matrices.
"""

import numpy as np

from chainrule import backend
from chainrule.core import Variable, no_grad
from chainrule.data import DataLoader

EVAL_BATCH = 500


def predict(model, dataset, device="cpu"):
    """Predicted classes of every example of ``dataset``, in eval mode, without a graph."""
    model.eval()
    out = []
    with no_grad():
        for xb, _ in DataLoader(dataset, EVAL_BATCH):
            y = model(Variable(backend.to_device(xb, device), requires_grad=False))
            out.append(backend.to_device(y.data.argmax(axis=1), "cpu"))
    return np.concatenate(out)


def labels_of(dataset):
    """All labels of ``dataset`` as one int64 array."""
    t = getattr(dataset, "t", None)
    if t is None:
        t = np.concatenate([tb for _, tb in DataLoader(dataset, EVAL_BATCH)])
    return np.asarray(t, dtype=np.int64)


def confusion_matrix(labels, predictions, n_classes):
    """counts[i, j]: examples of class i predicted as j;  (n_classes, n_classes) int64."""
    index = np.asarray(labels) * n_classes + np.asarray(predictions)
    return np.bincount(index, minlength=n_classes**2).reshape(n_classes, n_classes)



def correct_count(model, dataset, device="cpu"):
    """``(correct, total)`` over ``dataset``: the counts that add up across ranks' shards."""
    if len(dataset) == 0:  # more ranks than test examples leaves some shards empty
        return 0, 0
    return int((predict(model, dataset, device) == labels_of(dataset)).sum()), len(dataset)
