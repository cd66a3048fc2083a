"""Peak memory of 20 MLP training steps at batch 1024 (mlp_step's model), in MiB.

The model, data and optimizer of ``mlp_step.py`` with a batch of 1024 are built
first; then the peak resident size is reset (``/proc/self/clear_refs``), 20
steps run, and the record is the peak resident size during them minus the
resident size before them: the memory the steps themselves add at their worst.
Where the peak cannot be reset (not Linux), the process's lifetime peak is used.
One sample per process; ``run.py --rounds N`` pools N processes.

    python bench/mlp_memory.py --framework chainrule
"""

import gc
import json
import platform
import resource
import sys

import mlp_step

import harness

BATCH = 1024
STEPS = 20


def resident_mib(field):
    """VmRSS or VmHWM (the peak) of this process in MiB, from /proc/self/status."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise OSError(f"{field} not in /proc/self/status")


def reset_peak():
    """Make VmHWM the current resident size; False where the kernel offers no reset."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def main(argv=None):
    args = harness.parse_args("mlp_memory", argv)
    if args.framework not in IMPLEMENTATIONS:
        sys.exit(f"mlp_memory: no implementation for {args.framework!r}")
    args.batch = BATCH
    step, check, *_ = IMPLEMENTATIONS[args.framework](args)
    gc.collect()
    before = resident_mib("VmRSS")
    if reset_peak():
        for _ in range(STEPS):
            step()
        peak = resident_mib("VmHWM")
    else:
        for _ in range(STEPS):
            step()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    value = peak - before
    record = {
        "framework": args.framework, "workload": "mlp_memory", "median": value, "unit": "MiB",
        "repeats": 1, "min": value, "samples": [value], "check": float(check()),
        "version": harness.framework_version(args.framework),
        "python": platform.python_version(),
    }
    print(json.dumps(record), flush=True)


IMPLEMENTATIONS = {
    name: mlp_step.IMPLEMENTATIONS[name]
    for name in ("chainrule", "chainrule-knob", "torch", "dezero", "autograd", "jax", "jax-jit")
}
DEFAULTS = {"full": (STEPS, 0, 0.0), "quick": (STEPS, 0, 0.0)}

if __name__ == "__main__":
    main()
