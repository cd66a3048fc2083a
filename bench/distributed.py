"""Data-parallel training: weak scaling of chainrule's DDP beside PyTorch DDP (gloo), and
the allreduce's time against message size, fitted to latency + size / bandwidth.

Weak scaling: every rank trains on its own batch (MLP: 128 per rank; CNN: 32 per rank, the
models of mlp_step.py and cnn_step.py), one BLAS thread per rank, so N ranks use N cores.
Samples per second = ranks x batch x steps / seconds (rank 0's clock, between barriers);
efficiency at 2 ranks = samples/s at 2 ranks / (2 x samples/s at 1 rank). One rank runs the
same program in the same kind of process (launched the same way, DDP over a world of one).

Method: a launch warms up for WARMUP steps, then times ROUNDS rounds of about half a second;
its rate is the median round. 1- and 2-rank launches alternate (``--launches`` pairs), so a
change in the machine's load hits both; the efficiency is the median over the pairs (the
best rounds' efficiency is printed beside it). Each rank also reads, from the kernel, how
long it was ready to run but had no core (``stolen``): at 2 ranks on 2 cores any other
process's work lands on a rank, and in data-parallel training every rank then waits for it,
so a figure taken while ``stolen`` is more than a few percent measures the machine.

    python bench/distributed.py                 # the scaling table (both frameworks)
    python bench/distributed.py --timeline      # where a step's time goes, rank by rank
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
STEPS = {"mlp": 80, "cnn": 40}  # a round: about half a second on one quiet core
ROUNDS = 5
WARMUP = 5


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
    """Time ROUNDS rounds of STEPS steps on this rank; every rank prints its rounds' rates
    (rank 0's clock is the one that counts) and the time it waited for a core."""
    make = {"chainrule": chainrule_step, "torch": torch_step,
            "alone": lambda w: chainrule_step(w, alone=True)}[framework]
    step, barrier, rank, size = make(workload)
    for _ in range(WARMUP):
        step()
    rates, stolen = [], []
    for _ in range(ROUNDS):
        barrier()
        ran, waited = schedstat()
        start = time.perf_counter()
        for _ in range(STEPS[workload]):
            step()
        barrier()
        seconds = time.perf_counter() - start
        rates.append(size * PER_RANK[workload] * STEPS[workload] / seconds)
        stolen.append((schedstat()[1] - waited) / seconds)
    print(json.dumps({"framework": framework, "workload": workload, "ranks": size,
                      "rank": rank, "rounds": rates, "stolen": stolen}), flush=True)


def schedstat():
    """(seconds this process ran, seconds it was ready to run but waited for a core), from
    Linux's /proc/self/schedstat; zeros elsewhere."""
    try:
        with open("/proc/self/schedstat") as f:
            ran, waited = f.read().split()[:2]
    except OSError:
        return 0.0, 0.0
    return int(ran) / 1e9, int(waited) / 1e9


# ---- launching ------------------------------------------------------------------------
def launch(framework, workload, ranks, bind=False, script=(), program=None):
    """Run ``ranks`` ranks of this script (``--rank FRAMEWORK WORKLOAD`` unless ``script``
    gives other arguments); the JSON line each rank printed, by rank."""
    env = dict(os.environ, **ONE_THREAD)
    me = [sys.executable, str(pathlib.Path(__file__).resolve()),
          *(script or ("--rank", framework, workload))]
    if framework != "torch":
        mpiexec = pathlib.Path(sys.executable).with_name("mpiexec")
        binding = ["-bind-to", "core"] if bind else []
        out = subprocess.run([str(mpiexec), *binding, "-n", str(ranks), *me], env=env,
                             check=True, capture_output=True, text=True, timeout=600).stdout
    else:
        port = free_port()
        procs = [subprocess.Popen((["taskset", "-c", str(r)] if bind else []) + me,
                                  env=dict(env, RANK=str(r), WORLD_SIZE=str(ranks),
                                           MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)),
                                  stdout=subprocess.PIPE, text=True) for r in range(ranks)]
        out = "".join(p.communicate(timeout=600)[0] for p in procs)
    return sorted(records(out), key=lambda record: record["rank"])


def records(text):
    """The JSON objects in ``text``: mpiexec forwards the ranks' lines as they come, so two
    ranks' lines may share one line of its output."""
    decoder, found, at = json.JSONDecoder(), [], text.find("{")
    while at >= 0:
        record, end = decoder.raw_decode(text, at)
        found.append(record)
        at = text.find("{", end)
    return found


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scaling(frameworks, launches=3, bind=False):
    """The table: for each workload and framework, ``launches`` pairs of a 1-rank and a
    2-rank launch, alternating; the efficiency of each pair from the launches' median
    rounds, and the median of those (the best rounds' efficiency in brackets)."""
    rows = []
    for workload in ("mlp", "cnn"):
        for framework in frameworks:
            medians, bests, stolen = {1: [], 2: []}, {1: [], 2: []}, {1: [], 2: []}
            for _ in range(launches):
                for n in (1, 2):
                    ranks = launch(framework, workload, n, bind)
                    medians[n].append(float(np.median(ranks[0]["rounds"])))
                    bests[n].append(max(ranks[0]["rounds"]))
                    stolen[n].append(max(float(np.median(r["stolen"])) for r in ranks))
            pairs = [two / (2 * one) for one, two in zip(medians[1], medians[2])]
            efficiency = float(np.median(pairs))
            best = float(np.median([two / (2 * one) for one, two in zip(bests[1], bests[2])]))
            one, two = float(np.median(medians[1])), float(np.median(medians[2]))
            rows.append((workload, framework, one, two, efficiency))
            print(f"{workload:4} {framework:9} 1 rank {one:8.0f}/s  2 ranks {two:8.0f}/s  "
                  f"efficiency {efficiency:.2f} (pairs {' '.join(f'{e:.2f}' for e in pairs)}; "
                  f"best rounds {best:.2f})  stolen 1 rank {np.median(stolen[1]):.0%}, "
                  f"2 ranks {np.median(stolen[2]):.0%}", flush=True)
    return rows


# ---- where a step's time goes -----------------------------------------------------------
TIMELINE_STEPS = 100


def timeline_main(workload, mode):
    """On every rank: TIMELINE_STEPS steps of chainrule's DDP (``mode`` "ddp") or of ranks
    that exchange nothing ("alone"), each split into forward, backward, optimizer and, inside
    backward, the time spent waiting for allreduces; with the step's CPU time and the time
    the rank was ready to run but had no core. Prints this rank's mean per step, in ms."""
    import chainrule.functions as F
    from chainrule import distributed as dist
    from chainrule import optim
    from chainrule.distributed.world import world

    sys.path.insert(0, str(HERE))
    model, x, t = chainrule_model(workload)
    net = model if mode == "alone" else dist.DistributedDataParallel(model)
    opt = optim.SGD(net.parameters(), lr=0.1)
    w, waited = world(), [0.0, 0.0]
    if w.size > 1:
        plain_wait = w.wait

        def timed_wait(request):
            start, cpu = time.perf_counter(), time.thread_time()
            plain_wait(request)
            waited[0] += time.perf_counter() - start
            waited[1] += time.thread_time() - cpu

        w.wait = timed_wait
    parts = {k: [] for k in ("forward", "backward", "in_wait", "optimizer", "step", "cpu",
                             "wait_cpu", "stolen")}
    for i in range(WARMUP + TIMELINE_STEPS):
        dist.barrier()  # each step starts together, so a rank's waits are the others' lateness
        waited[:], (_, queued), cpu = [0.0, 0.0], schedstat(), time.thread_time()
        a = time.perf_counter()
        opt.zero_grad()
        loss = F.softmax_cross_entropy(net(x), t)
        b = time.perf_counter()
        loss.backward()
        c = time.perf_counter()
        opt.step()
        d = time.perf_counter()
        if i >= WARMUP:
            for k, v in zip(parts, (b - a, c - b, waited[0], d - c, d - a,
                                    time.thread_time() - cpu, waited[1],
                                    schedstat()[1] - queued)):
                parts[k].append(v * 1e3)
    print(json.dumps({"rank": w.rank, "ranks": w.size, "mode": mode,
                      **{k: float(np.mean(v)) for k, v in parts.items()}}), flush=True)


def timeline(bind=False):
    print("ms per step, mean of each rank (in_wait: inside backward, waiting for allreduces, "
          "wait_cpu of it on the CPU; stolen: ready to run, no core free)")
    print(f"{'':18} {'forward':>8} {'backward':>8} {'in_wait':>8} {'optimizer':>9} "
          f"{'step':>7} {'cpu':>7} {'wait_cpu':>8} {'stolen':>7}")
    for workload in ("mlp", "cnn"):
        for ranks, mode in ((1, "alone"), (2, "alone"), (2, "ddp")):
            for r in launch("chainrule", workload, ranks, bind,
                            script=("--timeline-rank", workload, mode)):
                label = f"{workload} {ranks} {mode} r{r['rank']}"
                print(f"{label:18} {r['forward']:8.2f} {r['backward']:8.2f} {r['in_wait']:8.2f} "
                      f"{r['optimizer']:9.2f} {r['step']:7.2f} {r['cpu']:7.2f} "
                      f"{r['wait_cpu']:8.2f} {r['stolen']:7.2f}", flush=True)


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
    parser.add_argument("--timeline-rank", nargs=2, metavar=("WORKLOAD", "MODE"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--timeline", action="store_true",
                        help="each rank's step split into forward, backward, waits, optimizer")
    parser.add_argument("--allreduce", action="store_true", help="allreduce sweep and fit")
    parser.add_argument("--project", action="store_true", help="ring-allreduce projection")
    parser.add_argument("--launches", type=int, default=3,
                        help="pairs of 1- and 2-rank launches, alternating (default 3)")
    parser.add_argument("--bind", action="store_true",
                        help="pin each rank to a core (mpiexec -bind-to core; taskset for torch)")
    parser.add_argument("--frameworks", default="chainrule,torch,alone",
                        help="alone: chainrule's ranks without gradient exchange (the ceiling)")
    args = parser.parse_args()
    if args.rank:
        rank_main(*args.rank)
    elif args.allreduce_rank:
        allreduce_main()
    elif args.timeline_rank:
        timeline_main(*args.timeline_rank)
    elif args.timeline:
        timeline(args.bind)
    elif args.allreduce:
        allreduce_sweep()
    elif args.project:
        project()
    else:
        scaling(args.frameworks.split(","), args.launches, args.bind)


if __name__ == "__main__":
    main()
