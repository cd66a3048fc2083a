"""Data-parallel training: weak scaling of chainrule's DDP beside PyTorch DDP (gloo), and
the allreduce's time against message size, fitted to latency + size / bandwidth.

Weak scaling: every rank trains on its own batch (MLP: 128 per rank; CNN: 32 per rank, the
models of mlp_step.py and cnn_step.py), one BLAS thread per rank, so N ranks use N cores.
Samples per second = ranks x batch x steps / seconds (rank 0's clock, between barriers);
efficiency at 2 ranks = samples/s at 2 ranks / (2 x samples/s at 1 rank). One rank runs the
same program (DDP over a world of one). Each launch measures ROUNDS rounds and keeps the
best, so a helper's burst of work on a shared machine spoils one round, not the figure.

    python bench/distributed.py                 # the scaling table (both frameworks)
    python bench/distributed.py --allreduce     # allreduce sweep on 2 ranks + fit
    python bench/distributed.py --project       # ring-allreduce projection to 256 ranks
"""

import argparse
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
PER_RANK = {"mlp": 128, "cnn": 32}
STEPS = {"mlp": 40, "cnn": 12}
ROUNDS = 5


# ---- one rank's work ------------------------------------------------------------------
def chainrule_step(workload, alone=False):
    """chainrule's DDP step; ``alone``: the same ranks, each training alone (no gradient
    exchange), the ceiling that the machine's free cores allow."""
    import chainrule.functions as F
    from chainrule import distributed as dist
    from chainrule import optim

    sys.path.insert(0, str(HERE))
    model, x, t = chainrule_model(workload)
    ddp = model if alone else dist.DistributedDataParallel(model)
    opt = optim.SGD(ddp.parameters(), lr=0.1)

    def step():
        opt.zero_grad()
        F.softmax_cross_entropy(ddp(x), t).backward()
        opt.step()

    return step, dist.barrier, dist.rank(), dist.world_size()


def chainrule_model(workload):
    from chainrule import nn

    module = __import__(f"{workload}_step")
    if workload == "mlp":
        x, t, layers = module.data(PER_RANK["mlp"])
        sizes = module.SIZES
        linears = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
        for linear, (W, b) in zip(linears, layers):
            linear.W.data[...], linear.b.data[...] = W, b
        return nn.Sequential(linears[0], nn.ReLU(), linears[1], nn.ReLU(), linears[2]), x, t
    x, t, params = module.data()
    layers = [nn.Conv2d(1, 16, 3, pad=1), nn.Conv2d(16, 32, 3, pad=1),
              nn.Linear(module.FLAT, module.CLASSES)]
    for layer, (W, b) in zip(layers, params):
        layer.W.data[...], layer.b.data[...] = W, b
    c1, c2, fc = layers
    model = nn.Sequential(c1, nn.ReLU(), nn.MaxPool2d(2), c2, nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), fc)
    return model, x, t


def torch_step(workload):
    import torch
    import torch.distributed as tdist
    from torch import nn

    torch.set_num_threads(1)
    tdist.init_process_group("gloo")
    sys.path.insert(0, str(HERE))
    module = __import__(f"{workload}_step")
    if workload == "mlp":
        x, t, _ = module.data(PER_RANK["mlp"])
        s = module.SIZES
        model = nn.Sequential(nn.Linear(s[0], s[1]), nn.ReLU(), nn.Linear(s[1], s[2]), nn.ReLU(),
                              nn.Linear(s[2], s[3]))
    else:
        x, t, _ = module.data()
        model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(module.FLAT, module.CLASSES))
    x, t = torch.from_numpy(x), torch.from_numpy(t)
    ddp = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)

    def step():
        opt.zero_grad()
        nn.functional.cross_entropy(ddp(x), t).backward()
        opt.step()

    return step, tdist.barrier, tdist.get_rank(), tdist.get_world_size()


def rank_main(framework, workload):
    """Time STEPS steps ROUNDS times on this rank; rank 0 prints the best round's rate."""
    make = {"chainrule": chainrule_step, "torch": torch_step,
            "alone": lambda w: chainrule_step(w, alone=True)}[framework]
    step, barrier, rank, size = make(workload)
    for _ in range(3):
        step()
    rates = []
    for _ in range(ROUNDS):
        barrier()
        start = time.perf_counter()
        for _ in range(STEPS[workload]):
            step()
        barrier()
        rates.append(size * PER_RANK[workload] * STEPS[workload] / (time.perf_counter() - start))
    if rank == 0:
        print(json.dumps({"framework": framework, "workload": workload, "ranks": size,
                          "samples_per_s": max(rates), "rounds": rates}), flush=True)


# ---- launching ------------------------------------------------------------------------
def launch(framework, workload, ranks):
    env = dict(os.environ, **ONE_THREAD)
    me = [sys.executable, str(pathlib.Path(__file__).resolve()), "--rank", framework, workload]
    if framework != "torch":
        mpiexec = pathlib.Path(sys.executable).with_name("mpiexec")
        out = subprocess.run([str(mpiexec), "-n", str(ranks), *me], env=env, check=True,
                             capture_output=True, text=True, timeout=600).stdout
    else:
        port = free_port()
        procs = [subprocess.Popen(me, env=dict(env, RANK=str(r), WORLD_SIZE=str(ranks),
                                               MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)),
                                  stdout=subprocess.PIPE, text=True) for r in range(ranks)]
        out = "".join(p.communicate(timeout=600)[0] for p in procs)
    return json.loads(out.strip().splitlines()[-1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scaling(frameworks, launches=1):
    """The table; with ``launches`` > 1, 1-rank and 2-rank launches alternate that many
    times and each keeps its best, so a quiet moment favours neither rank count."""
    rows = []
    for workload in ("mlp", "cnn"):
        for framework in frameworks:
            best = {1: 0.0, 2: 0.0}
            for _ in range(launches):
                for n in (1, 2):
                    best[n] = max(best[n], launch(framework, workload, n)["samples_per_s"])
            one, two = best[1], best[2]
            rows.append((workload, framework, one, two, two / (2 * one)))
            print(f"{workload:4} {framework:9} 1 rank {one:8.0f}/s  2 ranks {two:8.0f}/s  "
                  f"efficiency {two / (2 * one):.2f}", flush=True)
    return rows


# ---- allreduce against size -----------------------------------------------------------
SIZES = [4 * 1024 * 4**k for k in range(8)]  # 4 KB ... 64 MB


def allreduce_main():
    """On every rank: the median time to sum a float32 buffer of each size over the ranks,
    in place in a buffer reused from call to call, as DDP's buckets are."""
    from chainrule import distributed as dist
    from chainrule.distributed.collectives import start_allreduce
    from chainrule.distributed.world import world

    times = []
    for nbytes in SIZES:
        x = np.ones(nbytes // 4, np.float32)
        repeats = max(5, min(200, int(2e8 // nbytes)))
        start_allreduce(world(), x, in_place=True).wait()
        samples = []
        for _ in range(repeats):
            dist.barrier()
            start = time.perf_counter()
            start_allreduce(world(), x, in_place=True).wait()
            samples.append(time.perf_counter() - start)
        times.append(float(np.median(samples)))
    if dist.rank() == 0:
        print(json.dumps({"ranks": dist.world_size(), "bytes": SIZES, "seconds": times}))


def fit(nbytes, seconds):
    """Least squares of t = latency + bytes / bandwidth; (latency s, bandwidth bytes/s)."""
    a = np.stack([np.ones(len(nbytes)), np.asarray(nbytes, float)], axis=1)
    weights = 1 / np.asarray(seconds)  # relative error: small messages count as much
    (latency, per_byte), *_ = np.linalg.lstsq(a * weights[:, None], np.ones(len(nbytes)),
                                              rcond=None)
    return latency, 1 / per_byte


def allreduce_sweep(ranks=2):
    env = dict(os.environ, **ONE_THREAD)
    mpiexec = pathlib.Path(sys.executable).with_name("mpiexec")
    out = subprocess.run([str(mpiexec), "-n", str(ranks), sys.executable, __file__,
                          "--allreduce-rank"], env=env, check=True, capture_output=True,
                         text=True, timeout=600).stdout
    record = json.loads(out.strip().splitlines()[-1])
    for nbytes, t in zip(record["bytes"], record["seconds"]):
        print(f"{nbytes / 1024:10.0f} KB  {t * 1e3:9.3f} ms  {nbytes / t / 1e9:6.2f} GB/s")
    latency, bandwidth = fit(record["bytes"], record["seconds"])
    print(f"fit: latency {latency * 1e6:.1f} us, bandwidth {bandwidth / 1e9:.2f} GB/s")
    return latency, bandwidth


# ---- projection -----------------------------------------------------------------------
NETWORKS = {"10 Gb/s": (50e-6, 10e9 / 8), "100 Gb/s": (5e-6, 100e9 / 8)}
MODELS = {  # name: (parameters, float32 bytes each, compute seconds per step on one rank)
    "MLP (bench)": (669_706, 4, 0.005),  # mlp_step, batch 128, one thread, quiet machine
    "25M-parameter model": (25_000_000, 4, 0.200),  # ResNet-50-sized, a step on one device
}
BACKWARD_SHARE = 2 / 3  # the part of a step that allreduces can hide behind
BUCKET_BYTES = 25 * 2**20  # DistributedDataParallel's default bucket_mb


def ring_allreduce(nbytes, ranks, latency, bandwidth):
    """Ring allreduce: 2 (p - 1) steps, each moving nbytes / p."""
    return 2 * (ranks - 1) * (latency + nbytes / ranks / bandwidth)


def project():
    """Step time = compute + the allreduce time backward cannot hide: buckets after the
    first overlap the rest of backward (BACKWARD_SHARE of the compute), the last does not."""
    print("| model | network | ranks | allreduce ms | step ms | efficiency |")
    print("|---|---|---:|---:|---:|---:|")
    for name, (params, width, compute) in MODELS.items():
        for network, (latency, bandwidth) in NETWORKS.items():
            for ranks in (8, 64, 256):
                nbytes = params * width
                comm = ring_allreduce(nbytes, ranks, latency, bandwidth)
                # the last bucket starts when backward ends: nothing hides it
                last = ring_allreduce(min(nbytes, BUCKET_BYTES), ranks, latency, bandwidth)
                exposed = max(last, comm - BACKWARD_SHARE * compute)
                step = compute + exposed
                print(f"| {name} | {network} | {ranks} | {comm * 1e3:.1f} | {step * 1e3:.1f} | "
                      f"{compute / step:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rank", nargs=2, metavar=("FRAMEWORK", "WORKLOAD"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--allreduce-rank", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--allreduce", action="store_true", help="allreduce sweep and fit")
    parser.add_argument("--project", action="store_true", help="ring-allreduce projection")
    parser.add_argument("--launches", type=int, default=1,
                        help="alternate 1- and 2-rank launches this many times (loaded machines)")
    parser.add_argument("--frameworks", default="chainrule,torch,alone",
                        help="alone: chainrule's ranks without gradient exchange (the ceiling)")
    args = parser.parse_args()
    if args.rank:
        rank_main(*args.rank)
    elif args.allreduce_rank:
        allreduce_main()
    elif args.allreduce:
        allreduce_sweep()
    elif args.project:
        project()
    else:
        scaling(args.frameworks.split(","), args.launches)


if __name__ == "__main__":
    main()
