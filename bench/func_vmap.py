"""Per-sample gradients of mlp_step's MLP (784-512-512-10, ReLU, softmax CE) at batch 64.

``vmap(grad(loss), in_dims=(None, 0, 0))(params, x, t)``: each of the 64 samples' gradient
of its own loss with respect to all six parameters (64 × 668,426 floats), against the loop
of 64 single-sample gradients the transform replaces; torch.func the same way. float32.

    python bench/func_vmap.py                         # all six, one process each: a table
    python bench/func_vmap.py --framework chainrule   # one pair, one JSON line

The table's processes run on one thread each (OMP/OpenBLAS/MKL_NUM_THREADS=1, unless set):
on the shared 2-core machine two BLAS threads made each GEMM of the step ~20x slower
whenever the other core was busy, ~28 ms against ~1.2 (bench/README.md). Set
OMP_NUM_THREADS=2 to compare on two.
"""

import json
import os
import subprocess
import sys

import mlp_step
import numpy as np

import harness

BATCH = 64
DEFAULTS = {"full": (30, 2, 20.0), "quick": (5, 1, 4.0)}


def data():
    x, t, layers = mlp_step.data(BATCH)
    return x, t, [a for layer in layers for a in layer]


def chainrule_loss():
    import chainrule.functions as F

    def loss(params, x, t):
        h = x[None]
        for i in range(0, len(params) - 2, 2):
            h = F.relu(F.linear(h, params[i], params[i + 1]))
        return F.softmax_cross_entropy(F.linear(h, params[-2], params[-1]), t[None])

    return loss


def make_chainrule(args, loop=False, keep_freed_memory=False):
    import chainrule as cr
    from chainrule.app import allocator
    from chainrule.func import grad, vmap

    if keep_freed_memory:  # the process-wide option `chainrule train` sets: see mlp_step.py
        allocator.keep_freed_memory()

    x, t, arrays = data()
    params = [cr.Variable(a) for a in arrays]
    per_sample = grad(chainrule_loss())
    out = []

    def step():
        if loop:
            out[:] = [per_sample(params, cr.Variable(x[i]), t[i]) for i in range(BATCH)]
        else:
            out[:] = [vmap(per_sample, in_dims=(None, 0, 0))(params, x, t)]

    def check():
        last = out[-1][-1]  # the last bias's gradient: the loop's last sample, vmap's all
        return float(np.abs(np.asarray(last.data).reshape(-1, 10)[-1]).sum())

    return step, check


def make_torch(args, loop=False):
    import torch

    x, t, arrays = data()
    params = [torch.tensor(a) for a in arrays]
    x, t = torch.tensor(x), torch.tensor(t)

    def loss(ps, x, t):
        h = x[None]
        for i in range(0, len(ps) - 2, 2):
            h = torch.relu(h @ ps[i] + ps[i + 1])
        return torch.nn.functional.cross_entropy(h @ ps[-2] + ps[-1], t[None])

    grad = torch.func.grad(loss)
    batched = torch.func.vmap(grad, in_dims=(None, 0, 0))
    out = []

    def step():
        if loop:
            out[:] = [grad(params, x[i], t[i]) for i in range(BATCH)]
        else:
            out[:] = [batched(params, x, t)]

    def check():
        return float(out[-1][-1].reshape(-1, 10)[-1].abs().sum())

    return step, check


IMPLEMENTATIONS = {
    "chainrule": make_chainrule,
    "chainrule-loop": lambda args: make_chainrule(args, loop=True),
    "chainrule-knob": lambda args: make_chainrule(args, keep_freed_memory=True),
    "chainrule-knob-loop": lambda args: make_chainrule(args, loop=True, keep_freed_memory=True),
    "torch": make_torch,
    "torch-loop": lambda args: make_torch(args, loop=True),
}


def table(argv):
    """Every implementation in its own process; medians and the loop/vmap speed-ups."""
    medians = {}
    env = dict(os.environ)
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(variable, env.get("OMP_NUM_THREADS", "1"))
    for name in IMPLEMENTATIONS:
        run = subprocess.run([sys.executable, __file__, "--framework", name, *argv],
                             capture_output=True, text=True, env=env)
        if run.returncode:
            print(f"{name}: error: {(run.stderr.strip().splitlines() or ['?'])[-1]}")
            continue
        medians[name] = json.loads(run.stdout.strip().splitlines()[-1])["median"]
    print("| per-sample gradients, batch 64 | vmap (ms) | loop (ms) | loop / vmap |")
    print("|---|---|---|---|")
    for name in ("chainrule", "chainrule-knob", "torch"):
        if name in medians and f"{name}-loop" in medians:
            v, lp = medians[name], medians[f"{name}-loop"]
            print(f"| {name} | {v:.1f} | {lp:.1f} | {lp / v:.1f}x |")


if __name__ == "__main__":
    if "--framework" in sys.argv:
        harness.main("func_vmap", IMPLEMENTATIONS, "ms", 1e3, DEFAULTS)
    else:
        table(sys.argv[1:])
