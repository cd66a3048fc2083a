"""What each rank runs under ``mpiexec`` for tests/distributed: checks, results as JSON.

``python worker.py OUT_DIR CHECK...`` runs the named checks in order and writes this rank's
results to ``OUT_DIR/rank<R>.json``; the tests read every rank's file and assert. One launch
runs many checks, because starting ranks is the slow part.
"""

import hashlib
import json
import pathlib
import sys

import numpy as np

import chainrule.functions as F
from chainrule import distributed as dist
from chainrule import nn, optim
from chainrule.data import ArrayDataset, DataLoader

STEPS, GLOBAL_BATCH = 3, 24
OUT = [None]  # the results folder, for checks that leave a file


def mlp(dtype, seed=0, hidden=7):
    model = nn.Sequential(nn.Linear(5, hidden), nn.Tanh(), nn.Linear(hidden, 6), nn.ReLU(),
                          nn.Linear(6, 3))
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data = (rng.standard_normal(p.shape) * 0.5).astype(dtype)
    return model


def global_batch(dtype, step):
    rng = np.random.default_rng(100 + step)
    x = rng.standard_normal((GLOBAL_BATCH, 5)).astype(dtype)
    t = rng.integers(0, 3, GLOBAL_BATCH)
    return x, t


def shard(array):
    n = len(array) // dist.world_size()
    return array[dist.rank() * n:(dist.rank() + 1) * n]


def make_optimizer(name, params):
    if name == "sgd":
        return optim.SGD(params, lr=0.1, momentum=0.9)
    return optim.Adam(params, lr=0.01)


def train(model, opt, dtype, sharded, accumulate=1):
    """STEPS steps; with ``accumulate``, each batch in that many no_sync micro-batches."""
    for step in range(STEPS):
        x, t = global_batch(dtype, step)
        if sharded:
            x, t = shard(x), shard(t)
        opt.zero_grad()
        chunks = np.array_split(np.arange(len(x)), accumulate)
        for i, rows in enumerate(chunks):
            loss = F.softmax_cross_entropy(model(x[rows]), t[rows]) / accumulate
            if i < accumulate - 1 and hasattr(model, "no_sync"):
                with model.no_sync():
                    loss.backward()
            else:
                loss.backward()
        opt.step()


def digest(model):
    h = hashlib.sha256()
    for p in model.parameters():
        h.update(np.ascontiguousarray(p.data).tobytes())
    return h.hexdigest()


def max_difference(a, b):
    return max(float(np.max(np.abs(np.asarray(p.data, np.float64) - np.asarray(q.data))))
               for p, q in zip(a.parameters(), b.parameters()))


def check_equivalence(opt_name, dtype, bucket_mb, accumulate=1):
    """DDP on shards against one process on the global batch, from the same start."""
    reference = mlp(dtype)
    train(reference, make_optimizer(opt_name, reference.parameters()), dtype, sharded=False)
    model = dist.DistributedDataParallel(mlp(dtype, seed=dist.rank()), bucket_mb=bucket_mb)
    train(model, make_optimizer(opt_name, model.parameters()), dtype, sharded=True,
          accumulate=accumulate)
    return {"difference": max_difference(model.module, reference), "digest": digest(model),
            "buckets": len(model._buckets), "dtype": str(model.module[0].W.dtype)}


def check_unused():
    """A layer the forward skips gets no gradient: backward leaves its bucket unstarted,
    a forward then refuses to run, and finish_gradient_synchronization averages zeros."""
    reference = mlp(np.float64)
    model = mlp(np.float64)
    extra = nn.Linear(2, 2)
    wrapped = nn.Sequential(model, extra)  # extra's parameters register last: bucket 0
    ddp = dist.DistributedDataParallel(wrapped, bucket_mb=1e-4)
    opt_ref = optim.SGD(reference.parameters(), lr=0.1)
    opt = optim.SGD(ddp.parameters(), lr=0.1)
    refused = None
    for step in range(STEPS):
        x, t = global_batch(np.float64, step)
        opt_ref.zero_grad()
        F.softmax_cross_entropy(reference(x), t).backward()
        opt_ref.step()
        opt.zero_grad()
        F.softmax_cross_entropy(model(shard(x)), shard(t)).backward()  # extra unused
        if step == 0:
            try:
                ddp(x)
            except RuntimeError as error:
                refused = str(error)
        ddp.finish_gradient_synchronization()
        opt.step()
    return {"difference": max_difference(model, reference), "digest": digest(model),
            "dtype": "float64", "refused": refused,
            "extra_grad": np.abs(extra.W.grad.data).max().item()}


def check_collectives():
    r, n = dist.rank(), dist.world_size()
    x = np.arange(4.0) + r
    from chainrule import Variable
    v = dist.all_reduce(Variable(x), op="max")
    gathered = dist.all_gather(np.full((r + 1, 2), r, dtype=np.int64))
    return {
        "sum": dist.all_reduce(x).tolist(), "mean": dist.all_reduce(x, op="mean").tolist(),
        "max": v.data.tolist(), "max_is_variable": type(v).__name__,
        "min": dist.all_reduce(x, op="min").tolist(), "count": dist.all_reduce(r + 1),
        "input_unchanged": x.tolist() == (np.arange(4.0) + r).tolist(),
        "broadcast": dist.broadcast(np.full(3, 10.0 * r), root=n - 1).tolist(),
        "gathered": [g.tolist() for g in gathered],
        "object": dist.broadcast_object({"rank": r}, root=0),
        "float32_sum_dtype": str(dist.all_reduce(np.ones(2, np.float32)).dtype),
        "rank": r, "world_size": n, "is_main": dist.is_main(),
    }


def check_start_state():
    """Different starts on every rank, and only rank 0 trained a step: DDP's construction
    gives everyone rank 0's parameters, broadcast_optimizer_state its Adam moments."""
    model = mlp(np.float64, seed=10 + dist.rank())
    opt = optim.Adam(model.parameters(), lr=0.01)
    if dist.rank() == 0:
        train(model, opt, np.float64, sharded=False)
    dist.broadcast_optimizer_state(opt)
    ddp = dist.DistributedDataParallel(model)
    train(ddp, opt, np.float64, sharded=True)
    return {"digest": digest(model), "step": opt.state[model[0].W]["step"]}


def check_sampler():
    data = ArrayDataset(np.arange(11.0)[:, None], np.arange(11))
    out = {}
    for drop_last in (False, True):
        sampler = dist.DistributedSampler(data, shuffle=True, seed=3, drop_last=drop_last)
        epochs = []
        for epoch in range(2):
            sampler.set_epoch(epoch)
            epochs.append([int(t) for _, tb in DataLoader(data, batch_size=2, sampler=sampler)
                           for t in tb])
        out[f"drop_last={drop_last}"] = {"epochs": epochs, "len": len(sampler)}
    return out


def check_mismatch():
    """Rank 1 builds a wider hidden layer: every rank must raise, none may hang."""
    model = mlp(np.float64, hidden=7 + (dist.rank() == 1))
    try:
        dist.DistributedDataParallel(model)
    except ValueError as error:
        return {"error": str(error)}
    return {"error": None}


def check_fault(out):
    """Rank 1 fails while the others wait in an allreduce: abort_on_error ends them all.
    It notes the moment it fails, so the test can time the others' end from there."""
    import time

    with dist.abort_on_error():
        if dist.rank() == 1:
            (out / "failed_at").write_text(repr(time.time()))
            raise ValueError("an injected failure")
        dist.all_reduce(np.ones(3))
        dist.barrier()


def check_cupy():
    """On GPU rank r uses device r: float64 gradients average over NCCL (or host memory
    without it) and match one CPU process; a uint8 array takes the host path."""
    import cupy as cp

    cp.cuda.Device(dist.rank()).use()
    reference = mlp(np.float64)
    train(reference, make_optimizer("adam", reference.parameters()), np.float64, False)
    model = dist.DistributedDataParallel(mlp(np.float64).to(f"cuda:{dist.rank()}"),
                                         bucket_mb=1e-4)
    opt = make_optimizer("adam", model.parameters())
    for step in range(STEPS):
        x, t = global_batch(np.float64, step)
        opt.zero_grad()
        F.softmax_cross_entropy(model(cp.asarray(shard(x))), cp.asarray(shard(t))).backward()
        opt.step()
    model.module.to("cpu")
    counts = dist.all_reduce(cp.full(3, dist.rank() + 1, dtype=cp.uint8))
    return {"difference": max_difference(model.module, reference), "digest": digest(model),
            "dtype": "float64", "counts": cp.asnumpy(counts).tolist(),
            "counts_on_gpu": type(counts).__module__.startswith("cupy")}


def check_fake_cupy(nccl):
    """The CuPy code on the CPU, with tests/distributed/fake_cupy.py standing in for CuPy
    (and NCCL, or not): collectives and DDP training on "device" arrays, which MPI never
    sees; results come back on the "device". Nothing runs on a GPU here."""
    import fake_cupy

    from chainrule.distributed.world import world

    cp = fake_cupy.install(nccl)
    w = world()
    comm, w.comm = w.comm, fake_cupy.guard(w.comm)
    try:
        r, n = dist.rank(), dist.world_size()
        x = cp.asarray(np.arange(4.0) + r)
        results = {
            "sum": dist.all_reduce(x), "mean": dist.all_reduce(x, op="mean"),
            "max": dist.all_reduce(x, op="max"), "min": dist.all_reduce(x, op="min"),
            "uint8_sum": dist.all_reduce(cp.full(3, r + 1, dtype=np.uint8)),
            "broadcast": dist.broadcast(cp.full(3, 10.0 * r, dtype=np.float32), root=n - 1),
            "gathered": dist.all_gather(cp.full((r + 1, 2), r, dtype=np.int64)),
        }
        out = {"input_unchanged": cp.asnumpy(x).tolist() == (np.arange(4.0) + r).tolist(),
               "on_device": sorted(k for k, v in results.items() if all(
                   isinstance(a, cp.ndarray) for a in (v if isinstance(v, list) else [v])))}
        out.update({k: [cp.asnumpy(a).tolist() for a in v] if isinstance(v, list) else
                    cp.asnumpy(v).tolist() for k, v in results.items()})
        reference = mlp(np.float64)
        train(reference, make_optimizer("adam", reference.parameters()), np.float64, False)
        model = mlp(np.float64)
        for p in model.parameters():
            p.data = cp.asarray(p.data)
        model = dist.DistributedDataParallel(model, bucket_mb=1e-4)
        opt = make_optimizer("adam", model.parameters())
        for step in range(STEPS):
            xb, tb = global_batch(np.float64, step)
            opt.zero_grad()
            F.softmax_cross_entropy(model(cp.asarray(shard(xb))), shard(tb)).backward()
            opt.step()
        out.update(difference=max_difference(model.module, reference), digest=digest(model),
                   dtype="float64", buckets=len(model._buckets),
                   params_on_device=all(isinstance(p.data, cp.ndarray)
                                        for p in model.parameters()),
                   nccl_calls=sorted({call[0] for call in fake_cupy.NcclCommunicator.calls}))
        return out
    finally:
        w.comm, w.nccl = comm, None
        fake_cupy.uninstall()


CHECKS = {
    "cupy": check_cupy,
    "fake_cupy_nccl": lambda: check_fake_cupy(nccl=True),
    "fake_cupy_host": lambda: check_fake_cupy(nccl=False),
    "collectives": check_collectives,
    "sgd_float64": lambda: check_equivalence("sgd", np.float64, bucket_mb=1e-4),
    "adam_float64": lambda: check_equivalence("adam", np.float64, bucket_mb=25),
    "sgd_float32": lambda: check_equivalence("sgd", np.float32, bucket_mb=25),
    "adam_float32": lambda: check_equivalence("adam", np.float32, bucket_mb=1e-4),
    "no_sync": lambda: check_equivalence("sgd", np.float64, bucket_mb=1e-4, accumulate=2),
    "unused": check_unused,
    "start_state": check_start_state,
    "sampler": check_sampler,
    "mismatch": check_mismatch,
    "fault": lambda: check_fault(OUT[0]),
}


def main():
    out, names = pathlib.Path(sys.argv[1]), sys.argv[2:]
    OUT[0] = out
    dist.init()
    results = {name: CHECKS[name]() for name in names}
    # Written whole or not at all: in the fault checks an Abort may end this rank mid-write.
    partial = out / f"rank{dist.rank()}.json.partial"
    partial.write_text(json.dumps(results))
    partial.replace(out / f"rank{dist.rank()}.json")


if __name__ == "__main__":
    main()
