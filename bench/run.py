"""Run every (workload, framework) pair in its own process and print one Markdown table.

    python bench/run.py                    # every workload and framework, 2 rounds (~2.5 min)
    python bench/run.py --quick            # smoke run (~1.5 min)
    python bench/run.py --rounds 3 --json bench.json

Each pair is a fresh ``python bench/<workload>.py --framework NAME`` process, so
frameworks never share a heap, a thread pool or an import. With ``--rounds N``
the pairs run N times in turn, each with 1/N of the repeats and time budget,
and the samples are pooled: load from other processes on a shared machine then
falls on every framework alike. OMP/MKL/OpenBLAS threads are set to the number
of usable cores for all frameworks unless already set in the environment.
A failing pair is reported as ``error: <last line>`` and the run goes on.
"""

import argparse
import importlib
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)  # the workload modules, imported to read their tables only
WORKLOADS = ("op_overhead", "op_constants", "deep_chain", "mlp_step", "cnn_step", "lstm_step",
             "rnn_loop", "mlp_memory")
FRAMEWORKS = ("chainrule", "chainrule-knob", "torch", "dezero", "autograd", "jax", "jax-jit",
              "gemms")
MODULE_OF = {"jax-jit": "jax", "chainrule-knob": "chainrule", "gemms": "numpy"}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
CHECK_TOLERANCE = 1e-3  # relative; float32 peers differ in summation order, not in math


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="chainrule vs peer frameworks, side by side")
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke run")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (default 2)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS), help="comma-separated")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per pair")
    args = parser.parse_args(argv)
    args.workloads = _known(args.workloads, WORKLOADS, "workload")
    args.frameworks = _known(args.frameworks, FRAMEWORKS, "framework")
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    return args


def _known(text, allowed, kind):
    names = [name for name in text.split(",") if name]
    unknown = [name for name in names if name not in allowed]
    if unknown:
        sys.exit(f"run.py: unknown {kind} {', '.join(unknown)} (choose from {', '.join(allowed)})")
    return names


def bench_environment():
    """The environment for every pair: the same thread counts for all frameworks."""
    env = dict(os.environ)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    for name in THREAD_VARIABLES:
        env.setdefault(name, str(cores))
    env.setdefault("JAX_PLATFORMS", "cpu")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [BENCH_DIR, env.get("PYTHONPATH")]))
    return env


def installed(framework):
    return importlib.util.find_spec(MODULE_OF.get(framework, framework)) is not None


def run_pair(workload, framework, args, env):
    """One subprocess; its JSON record, or ``{"error": one line}``."""
    repeats, warmup, budget = importlib.import_module(workload).DEFAULTS[
        "quick" if args.quick else "full"
    ]
    command = [
        sys.executable, os.path.join(BENCH_DIR, f"{workload}.py"), "--framework", framework,
        "--repeats", str(math.ceil(repeats / args.rounds)), "--warmup", str(warmup),
        "--budget", str(budget / args.rounds),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env,
                              timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {args.timeout:g} s"}
    records = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not records:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        return {"error": lines[-1][:160] if lines else f"exit status {done.returncode}"}
    return json.loads(records[-1])


def pool(records):
    """Merge one pair's rounds: samples pooled, median and min over all of them."""
    if any("error" in r for r in records):
        return next(r for r in records if "error" in r)
    merged = dict(records[-1])
    merged["samples"] = [value for r in records for value in r["samples"]]
    merged["median"] = statistics.median(merged["samples"])
    merged["min"] = min(merged["samples"])
    merged["repeats"] = len(merged["samples"])
    return merged


def run_all(args, env):
    """{(workload, framework): record} for every implemented, installed pair."""
    pairs = []
    for workload in args.workloads:
        implemented = importlib.import_module(workload).IMPLEMENTATIONS
        pairs += [(workload, f) for f in args.frameworks if f in implemented and installed(f)]
    rounds = {pair: [] for pair in pairs}
    for round_index in range(args.rounds):
        for workload, framework in pairs:
            start = time.perf_counter()
            record = run_pair(workload, framework, args, env)
            rounds[workload, framework].append(record)
            shown = record.get("error") or f"{record['median']:.4g} {record['unit']}"
            print(f"[{round_index + 1}/{args.rounds}] {workload:<12} {framework:<10} {shown} "
                  f"({time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)
    return {pair: pool(records) for pair, records in rounds.items()}


def cell(record):
    if record is None:
        return "n/a"
    if "error" in record:
        return f"error: {record['error']}".replace("|", "/")
    return f"{record['median']:.3g}"


def check_notes(results, workloads):
    """Pairs whose cross-check value differs from torch's (or the first one's): different math."""
    notes = []
    for workload in workloads:
        done = {f: r for (w, f), r in results.items() if w == workload and "check" in r}
        if not done:
            continue
        reference_name = "torch" if "torch" in done else next(iter(done))
        reference = done[reference_name]["check"]
        for framework, record in done.items():
            if abs(record["check"] - reference) > CHECK_TOLERANCE * max(abs(reference), 1e-12):
                notes.append(f"{workload}/{framework}: check {record['check']:.6g} differs from "
                             f"{reference_name}'s {reference:.6g}")
    return notes


def table(results, args):
    """The Markdown table: one row per workload, medians, then chainrule/torch."""
    frameworks = [f for f in args.frameworks if any(k[1] == f for k in results)]
    lines = [
        "| workload | unit | " + " | ".join(frameworks) + " | chainrule/torch |",
        "|---|---|" + "---:|" * (len(frameworks) + 1),
    ]
    for workload in args.workloads:
        row = {f: results.get((workload, f)) for f in frameworks}
        unit = next((r["unit"] for r in row.values() if r and "unit" in r), "")
        ours, theirs = row.get("chainrule"), row.get("torch")
        ratio = "n/a"
        if ours and theirs and "median" in ours and "median" in theirs:
            ratio = f"{ours['median'] / theirs['median']:.2f}"
        lines.append(f"| {workload} | {unit} | " + " | ".join(cell(row[f]) for f in frameworks)
                     + f" | {ratio} |")
    return "\n".join(lines)


def describe_machine(results, env):
    torch_threads = next((r["torch_threads"] for r in results.values() if "torch_threads" in r),
                         None)
    numpy = importlib.import_module("numpy")
    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "machine": platform.machine(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "threads": {name: env[name] for name in THREAD_VARIABLES},
        "torch_threads": torch_threads,
    }


def main(argv=None):
    args = parse_args(argv)
    env = bench_environment()
    missing = [f for f in args.frameworks if not installed(f)]
    results = run_all(args, env)
    machine = describe_machine(results, env)
    print(table(results, args))
    print()
    print("Medians (lower is better); chainrule/torch < 1 means chainrule is faster. "
          f"{args.rounds} round(s){', quick' if args.quick else ''}.")
    print(f"Python {machine['python']}, NumPy {machine['numpy']}, {machine['cores']} cores, "
          f"OMP/MKL/OpenBLAS threads {env['OMP_NUM_THREADS']}, "
          f"torch.get_num_threads() = {machine['torch_threads']}.")
    versions = sorted({(r["framework"], r["version"]) for r in results.values() if "version" in r})
    print("Versions: " + ", ".join(f"{name} {version}" for name, version in versions) + ".")
    for framework in missing:
        print(f"Skipped {framework}: not installed.")
    gemms, ours = results.get(("mlp_step", "gemms")), results.get(("mlp_step", "chainrule"))
    if gemms and ours and "median" in gemms and "median" in ours:
        print(f"mlp_step: chainrule takes {ours['median'] / gemms['median']:.2f}x "
              "the time of its eight GEMMs alone in NumPy (column gemms).")
    for note in check_notes(results, args.workloads):
        print(f"Warning: {note}.")
    if args.json:
        payload = {"machine": machine, "quick": args.quick, "rounds": args.rounds,
                   "results": [dict(r, workload=w, framework=f) for (w, f), r in results.items()]}
        with open(args.json, "w") as file:
            json.dump(payload, file, indent=1)


if __name__ == "__main__":
    main()
