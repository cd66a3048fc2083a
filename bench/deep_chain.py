"""A long chain: ``y = y * 0.9999 + 0.0001`` 100,000 times on a float64 scalar, then backward.

200,000 recorded operations on 0-d arrays: the cost of a graph that is deep
rather than wide (recording, the backward walk, freeing the graph). float64
throughout, because some peers turn Python float constants into float64
arrays and would promote a float32 chain anyway. Reported in seconds for
forward + backward; the graph is freed inside the timed step, as in a
training loop. dy/dx = 0.9999^100000 ≈ 4.54e-5 is the cross-check.

    python bench/deep_chain.py --framework chainrule
"""

import numpy as np

import harness

LENGTH = 100_000
WARMUP_LENGTH = 1_000


def make_chainrule(args):
    import chainrule as cr

    x = cr.Variable(np.array(1.0))

    def run(length):
        y = x
        for _ in range(length):
            y = y * 0.9999 + 0.0001
        x.cleargrad()
        y.backward()

    step, warm = _steps(run)
    return step, lambda: x.grad.data, warm


def make_torch(args):
    import torch

    x = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)

    def run(length):
        y = x
        for _ in range(length):
            y = y * 0.9999 + 0.0001
        x.grad = None
        y.backward()

    step, warm = _steps(run)
    return step, lambda: x.grad.item(), warm


def make_dezero(args):
    dezero = harness.import_dezero()
    x = dezero.Variable(np.array(1.0))

    def run(length):
        y = x
        for _ in range(length):
            y = y * 0.9999 + 0.0001
        x.cleargrad()
        y.backward()

    step, warm = _steps(run)
    return step, lambda: x.grad.data, warm


def make_autograd(args):
    from autograd import grad

    x = np.array(1.0)
    result = [None]

    def chain(x, length):
        y = x
        for _ in range(length):
            y = y * 0.9999 + 0.0001
        return y

    gradient = grad(chain)

    def run(length):
        result[0] = gradient(x, length)

    step, warm = _steps(run)
    return step, lambda: result[0], warm


def _steps(run):
    """The timed step runs the full chain; the warm-up runs a short one.

    Warm-up is for code paths and caches, so a 1,000-step chain serves and keeps
    the script within its time budget.
    """
    return lambda: run(LENGTH), lambda: run(WARMUP_LENGTH)


IMPLEMENTATIONS = {
    "chainrule": make_chainrule,
    "torch": make_torch,
    "dezero": make_dezero,
    "autograd": make_autograd,
}
DEFAULTS = {"full": (3, 2, 10.0), "quick": (1, 1, 1.0)}

if __name__ == "__main__":
    harness.main("deep_chain", IMPLEMENTATIONS, "s", 1.0, DEFAULTS)
