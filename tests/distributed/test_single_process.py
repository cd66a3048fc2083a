"""chainrule.distributed in one process (no mpiexec): a world of one, and the parts whose
logic needs no other rank: the sampler's shards, the bucket plan, argument errors."""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
from chainrule import distributed as dist
from chainrule import nn
from chainrule.data import ArrayDataset, DataLoader
from chainrule.distributed.ddp import plan_buckets

LAUNCHER_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS",
                      "SLURM_NTASKS")


def run_python(code, **env):
    clean = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARIABLES}
    return subprocess.run([sys.executable, "-c", code], env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


def test_one_process_is_a_world_of_one_without_importing_mpi():
    done = run_python(
        "import sys; from chainrule import distributed as dist\n"
        "print(dist.init(), dist.rank(), dist.world_size(), dist.is_main(), dist.barrier(),"
        " 'mpi4py' in sys.modules)")
    assert done.stdout.split() == ["1", "0", "1", "True", "None", "False"], done.stderr


def test_a_launcher_without_mpi4py_is_one_sentence_naming_the_extra():
    done = run_python(
        "import sys; sys.modules['mpi4py'] = None\n"
        "from chainrule import distributed as dist\n"
        "try:\n    dist.init()\nexcept RuntimeError as e:\n    print(e)", PMI_SIZE="2")
    assert 'started by an MPI launcher with 2 processes' in done.stdout
    assert 'pip install "chainrule[mpi]"' in done.stdout


def test_collectives_in_one_process_return_copies_of_the_same_kind():
    x = np.arange(3.0)
    y = dist.all_reduce(x, op="mean")
    assert y is not x and y.tolist() == x.tolist()
    v = dist.all_reduce(cr.Variable(x), op="max")
    assert isinstance(v, cr.Variable) and not v.requires_grad
    assert dist.all_reduce(3) == 3 and isinstance(dist.all_reduce(2.5), float)
    assert [g.tolist() for g in dist.all_gather(x)] == [x.tolist()]
    assert dist.broadcast(x, root=0).tolist() == x.tolist()
    assert dist.broadcast_object({"a": 1}) == {"a": 1}


def test_collective_errors_name_the_operation_and_the_value():
    with pytest.raises(ValueError, match="all_reduce: op must be one of sum, mean, max, min"):
        dist.all_reduce(np.ones(2), op="prod")
    with pytest.raises(ValueError, match="broadcast: root must be a rank from 0 to 0, got 1"):
        dist.broadcast(np.ones(2), root=1)
    with pytest.raises(TypeError, match="all_gather: expected a Variable, an array or a number"):
        dist.all_gather("text")


def test_abort_on_error_lets_errors_through_with_one_process():
    with pytest.raises(KeyError):
        with dist.abort_on_error():
            raise KeyError("x")


def test_ddp_in_one_process_is_the_module_with_no_hooks():
    module = nn.Sequential(nn.Linear(3, 2))
    ddp = dist.DistributedDataParallel(module, bucket_mb=1)
    x = np.ones((4, 3))
    assert np.array_equal(ddp(x).data, module(x).data)
    assert [id(p) for p in ddp.parameters()] == [id(p) for p in module.parameters()]
    assert all(p._hooks is None for p in module.parameters())
    assert list(ddp.state_dict()) == ["module.0.W", "module.0.b"]
    with ddp.no_sync():
        ddp(x).sum().backward()
    ddp.finish_gradient_synchronization()  # nothing pending: nothing to do
    assert "world_size=1" in repr(ddp)


def test_ddp_refuses_what_is_not_a_module_or_a_bucket_size():
    with pytest.raises(TypeError, match="expected an nn.Module, got list"):
        dist.DistributedDataParallel([])
    with pytest.raises(ValueError, match="bucket_mb must be positive, got 0"):
        dist.DistributedDataParallel(nn.Linear(2, 2), bucket_mb=0)


def test_buckets_take_parameters_in_reverse_order_up_to_the_size_and_split_dtypes():
    params = [cr.Variable(np.zeros(n, dtype)) for n, dtype in
              [(100, np.float64), (100, np.float64), (300, np.float64), (10, np.float32),
               (10, np.float32)]]
    buckets = plan_buckets(params, bucket_mb=2000 / 2**20)  # 2000 bytes: 250 float64
    index = {id(p): i for i, p in enumerate(params)}
    assert [[index[id(p)] for p in b.params] for b in buckets] == [[4, 3], [2], [1, 0]]
    assert [b.numel for b in buckets] == [20, 300, 200]
    assert [b.dtype for b in buckets] == [np.float32, np.float64, np.float64]


@given(n=st.integers(0, 40), replicas=st.integers(1, 5), drop_last=st.booleans(),
       shuffle=st.booleans(), epoch=st.integers(0, 3))
def test_shards_of_all_ranks_are_disjoint_equal_and_cover_the_dataset(
        n, replicas, drop_last, shuffle, epoch):
    data = range(n)
    shards = []
    for rank in range(replicas):
        sampler = dist.DistributedSampler(data, num_replicas=replicas, rank=rank,
                                          shuffle=shuffle, seed=7, drop_last=drop_last)
        sampler.set_epoch(epoch)
        shards.append(list(sampler))
        assert len(shards[-1]) == len(sampler)
    taken = [i for shard in shards for i in shard]
    assert len({len(s) for s in shards}) == 1
    if drop_last:
        assert len(set(taken)) == len(taken) == n - n % replicas
    else:
        assert set(taken) == set(range(n))
        assert len(taken) == (-(-n // replicas) * replicas if n else 0)


def test_set_epoch_reshuffles_the_same_way_on_every_rank_and_seed_fixes_the_order():
    def order(epoch, seed=0, rank=0):
        sampler = dist.DistributedSampler(range(50), num_replicas=2, rank=rank, seed=seed)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert order(0) == order(0) and order(0) != order(1) and order(0, seed=1) != order(0)
    assert set(order(3, rank=0)).isdisjoint(order(3, rank=1))


def test_sampler_feeds_a_dataloader_and_refuses_a_bad_rank():
    data = ArrayDataset(np.arange(10.0)[:, None], np.arange(10))
    sampler = dist.DistributedSampler(data, num_replicas=3, rank=2, shuffle=False)
    assert [t.tolist() for _, t in DataLoader(data, batch_size=2, sampler=sampler)] == \
        [[2, 5], [8, 1]]  # 10 padded to 12 with the first indices: 2, 5, 8, 11 -> 1
    with pytest.raises(ValueError, match="rank must be from 0 to 2, got 3"):
        dist.DistributedSampler(data, num_replicas=3, rank=3)
    with pytest.raises(ValueError, match="num_replicas must be a positive integer, got 0"):
        dist.DistributedSampler(data, num_replicas=0, rank=0)
