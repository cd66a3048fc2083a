"""jacfwd against jacrev on a wide and a tall Jacobian, beside torch.func and JAX.

    python bench/func.py                     # every pair, each in its own process; a table
    python bench/func.py --framework torch --case wide --mode jacrev   # one pair, one JSON line

The function is a small MLP, f(x) = W2 · tanh(W1 · x + b1), float64, hidden width 32:
``wide`` maps R^4 → R^1000 (W1 32×4, W2 1000×32), ``tall`` maps R^1000 → R^4 (W1 32×1000,
W2 4×32). jacfwd costs one forward pass per input, jacrev one backward per output, so
the right mode should win by about the ratio of the dimensions (250) where each pass is
a Python loop step (chainrule); torch.func and JAX batch the passes with vmap, so their
gap is the cost of the wider batched matrix products, not of more passes.
The time is one whole Jacobian, in ms; the cross-check is the Jacobian's sum.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

import numpy as np

import harness

CASES = {"wide": (4, 1000), "tall": (1000, 4)}
HIDDEN = 32
MODES = ("jacfwd", "jacrev")
FRAMEWORKS = ("chainrule", "torch", "jax", "jax-jit")


def data(case):
    """x, W1, b1, W2 for ``case``, float64, from a fixed seed."""
    n_in, n_out = CASES[case]
    rng = np.random.default_rng(0)
    return (rng.normal(size=n_in), rng.normal(size=(HIDDEN, n_in)) / np.sqrt(n_in),
            rng.normal(size=HIDDEN), rng.normal(size=(n_out, HIDDEN)) / np.sqrt(HIDDEN))


def make_chainrule(case, mode):
    import chainrule as cr
    import chainrule.functions as F
    from chainrule import func

    x, w1, b1, w2 = (cr.Variable(a, requires_grad=False) for a in data(case))

    def f(v):
        return w2 @ F.tanh(w1 @ v + b1)

    transform = getattr(func, mode)(f)
    return lambda: transform(x).data


def make_torch(case, mode):
    import torch

    x, w1, b1, w2 = (torch.tensor(a) for a in data(case))

    def f(v):
        return w2 @ torch.tanh(w1 @ v + b1)

    transform = getattr(torch.func, mode)(f)
    return lambda: transform(x).numpy()


def make_jax(case, mode, jit=False):
    jax = harness.import_jax(x64=True)
    jnp = jax.numpy
    x, w1, b1, w2 = (jnp.asarray(a) for a in data(case))

    def f(v):
        return w2 @ jnp.tanh(w1 @ v + b1)

    transform = getattr(jax, mode)(f)
    transform = jax.jit(transform) if jit else transform
    return lambda: np.asarray(jax.block_until_ready(transform(x)))


MAKERS = {"chainrule": make_chainrule, "torch": make_torch, "jax": make_jax,
          "jax-jit": lambda case, mode: make_jax(case, mode, jit=True)}


def one(framework, case, mode, repeats, budget):
    """Time one (framework, case, mode) here; its JSON record."""
    jacobian = MAKERS[framework](case, mode)
    times = harness.measure(jacobian, repeats, warmup=2, budget=budget)
    values = [t * 1e3 for t in times]
    return {"framework": framework, "case": case, "mode": mode, "unit": "ms",
            "median": statistics.median(values), "min": min(values), "repeats": len(values),
            "check": float(jacobian().sum()), "version": harness.framework_version(framework)}


def table(records):
    """Markdown: a row per (case, mode), a column per framework, then jacfwd/jacrev ratios."""
    found = {(r["framework"], r["case"], r["mode"]): r for r in records}
    frameworks = [f for f in FRAMEWORKS if any(k[0] == f for k in found)]
    lines = ["| function | mode | " + " | ".join(frameworks) + " |",
             "|---|---|" + "---|" * len(frameworks)]
    for case, (n_in, n_out) in CASES.items():
        for mode in MODES:
            cells = [_cell(found.get((f, case, mode))) for f in frameworks]
            lines.append(f"| R^{n_in} → R^{n_out} | {mode} | " + " | ".join(cells) + " |")
        ratios = [_ratio(found.get((f, case, "jacfwd")), found.get((f, case, "jacrev")))
                  for f in frameworks]
        lines.append(f"| R^{n_in} → R^{n_out} | jacfwd / jacrev | " + " | ".join(ratios) + " |")
    return "\n".join(lines)


def _cell(record):
    if record is None:
        return "–"
    return record.get("error") or f"{record['median']:.3g} ms"


def _ratio(fwd, rev):
    if not fwd or not rev or "error" in fwd or "error" in rev:
        return "–"
    return f"{fwd['median'] / rev['median']:.3g}×"


def run_all(args):
    env = dict(os.environ)
    threads = str(len(os.sched_getaffinity(0)))  # as run.py: every framework gets the cores
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.setdefault(name, threads)
    records = []
    for framework in args.frameworks.split(","):
        for case in CASES:
            for mode in MODES:
                command = [sys.executable, os.path.abspath(__file__), "--framework", framework,
                           "--case", case, "--mode", mode, "--budget", str(args.budget)]
                done = subprocess.run(command, capture_output=True, text=True, env=env)
                if done.returncode:
                    last = (done.stderr.strip().splitlines() or ["failed"])[-1]
                    records.append({"framework": framework, "case": case, "mode": mode,
                                    "error": f"error: {last[:60]}"})
                else:
                    records.append(json.loads(done.stdout.strip().splitlines()[-1]))
    checks = {}
    for r in records:
        if "check" in r:
            checks.setdefault(r["case"], []).append(r["check"])
    for case, values in checks.items():
        if max(values) - min(values) > 1e-8 * max(1.0, abs(max(values))):
            print(f"note: the Jacobians of {case} differ between frameworks: {values}")
    return records


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", help="one framework (default: all, a table)")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--case", choices=sorted(CASES))
    parser.add_argument("--mode", choices=MODES)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--budget", type=float, default=3.0, help="seconds of timed calls")
    args = parser.parse_args(argv)
    if args.framework:
        print(json.dumps(one(args.framework, args.case, args.mode, args.repeats, args.budget)))
        return
    print(table(run_all(args)))


if __name__ == "__main__":
    main()
