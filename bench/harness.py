"""What every workload script shares: arguments, warm-up, timing, the JSON line.

A workload script defines ``IMPLEMENTATIONS``: framework name -> ``make(args)``,
a function that builds the data and returns ``(step, check)`` or
``(step, check, warm)``. ``step()`` runs
one measured unit and returns only when the work is done (lazy frameworks
block inside it); ``check()`` returns a number that is the same in every
framework when the math is the same (a gradient, a first-step loss), so
``run.py`` can flag an implementation that computes something else; ``warm()``
(default: ``step``) is what the untimed warm-up runs, when a full step is too
long to repeat just for warming up.

Heavy imports (torch, jax, ...) happen inside ``make`` only: ``run.py`` imports
the workload modules to list their frameworks without loading any of them.
"""

import argparse
import gc
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time


def parse_args(workload, argv=None):
    """The command line of a workload script: ``--framework NAME`` and the timing knobs."""
    parser = argparse.ArgumentParser(description=f"benchmark workload {workload}")
    parser.add_argument("--framework", required=True, help="which implementation to time")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for a smoke run")
    parser.add_argument("--repeats", type=int, default=None, help="most timed steps")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps before timing")
    parser.add_argument(
        "--budget", type=float, default=None,
        help="seconds of timed steps after which to stop early (at least 3 steps are timed)",
    )
    return parser.parse_args(argv)


def measure(step, repeats, warmup, budget, warm=None):
    """Seconds taken by each timed call of ``step``, after ``warmup`` untimed calls of ``warm``.

    Stops after ``repeats`` calls, or earlier once ``budget`` seconds are spent and
    ``MIN_REPEATS`` calls are done, so a slow framework cannot stall the whole run.
    Warm-up is capped at a quarter of the budget (one call at least) for the same reason.
    """
    clock = time.perf_counter
    start = clock()
    for _ in range(warmup):
        (warm or step)()
        if clock() - start > budget / 4:
            break
    gc.collect()  # start from the same heap; collections during the steps stay in the time
    times = []
    while len(times) < repeats and (sum(times) < budget or len(times) < MIN_REPEATS):
        start = clock()
        step()
        times.append(clock() - start)
    return times


MIN_REPEATS = 3


def framework_version(framework):
    """The installed version of the framework's distribution, or '' when unknown."""
    try:
        name = {"chainrule-knob": "chainrule", "gemms": "numpy"}.get(framework, framework)
        return importlib.metadata.version(name.removesuffix("-jit"))
    except importlib.metadata.PackageNotFoundError:
        return ""


def main(workload, implementations, unit, scale, defaults, argv=None):
    """Run one (workload, framework) pair and print its JSON line.

    ``scale`` turns seconds per step into ``unit`` (1e6 / 300 for µs per op);
    ``defaults`` maps ``"full"``/``"quick"`` to ``(repeats, warmup, budget seconds)``.
    """
    args = parse_args(workload, argv)
    if args.framework not in implementations:
        names = ", ".join(sorted(implementations))
        sys.exit(f"{workload}: no implementation for {args.framework!r} (have: {names})")
    repeats, warmup, budget = defaults["quick" if args.quick else "full"]
    repeats = args.repeats if args.repeats is not None else repeats
    warmup = args.warmup if args.warmup is not None else warmup
    budget = args.budget if args.budget is not None else budget
    step, check, *warm = implementations[args.framework](args)
    values = [t * scale for t in measure(step, repeats, warmup, budget, *warm)]
    record = {
        "framework": args.framework,
        "workload": workload,
        "median": statistics.median(values),
        "unit": unit,
        "repeats": len(values),
        "min": min(values),
        "samples": values,
        "version": framework_version(args.framework),
        "python": platform.python_version(),
        "omp_threads": os.environ.get("OMP_NUM_THREADS", ""),
    }
    value = check()
    if value is not None:  # None: a reference that computes no loss (the GEMMs alone)
        record["check"] = float(value)
    if "torch" in sys.modules:
        record["torch_threads"] = sys.modules["torch"].get_num_threads()
    print(json.dumps(record), flush=True)


def training_step(zero_grad, loss_of, update, first_loss):
    """The step of every module-style framework: clear grads, forward, backward, update.

    The first step's loss is kept in ``first_loss`` as the cross-check value.
    """

    def step():
        zero_grad()
        loss = loss_of()
        loss.backward()
        update()
        if not first_loss:
            first_loss.append(float(loss.data))

    return step


def import_dezero():
    """DeZero 0.0.13 uses ``np.int``, gone in NumPy 2: put the alias back before importing it."""
    import numpy as np

    if not hasattr(np, "int"):
        np.int = int
    import dezero

    return dezero


def import_jax(x64=False):
    """JAX on the CPU, float64 enabled only when a workload asks for it."""
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax

    jax.config.update("jax_enable_x64", x64)
    return jax


def jax_training_steps(jax, update, params, x, t):
    """``(step, check)`` for a functional JAX update: params carried between steps,
    the first step's loss kept as the cross-check, each step finished before it returns."""
    state = {"params": jax.tree.map(jax.numpy.asarray, params)}
    x, t = jax.numpy.asarray(x), jax.numpy.asarray(t)
    first = []

    def step():
        state["params"], loss = update(state["params"], x, t)
        jax.block_until_ready(state["params"])
        if not first:
            first.append(float(loss))

    return step, lambda: first[0]
