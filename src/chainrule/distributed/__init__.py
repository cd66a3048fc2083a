"""Data-parallel training over MPI: the same model on every rank, each on a shard of the batch.

Launch with ``mpiexec -n 4 python train.py`` (the ``[mpi]`` extra installs mpi4py and an
MPICH whose ``mpiexec`` lands in the environment). Started without ``mpiexec``, everything
here works for a world of one process and imports no MPI.

>>> from chainrule import distributed as dist
>>> dist.init()
>>> model = dist.DistributedDataParallel(Net())
>>> sampler = dist.DistributedSampler(train_set, shuffle=True, seed=0)
>>> with dist.abort_on_error():
...     for xb, tb in DataLoader(train_set, batch_size=32, sampler=sampler): ...
"""

from chainrule.distributed.collectives import (
    all_gather,
    all_gather_object,
    all_reduce,
    broadcast,
    broadcast_object,
)
from chainrule.distributed.ddp import DistributedDataParallel
from chainrule.distributed.fault import abort_on_error
from chainrule.distributed.parameters import (
    broadcast_optimizer_state,
    broadcast_parameters,
    check_same_model,
)
from chainrule.distributed.sampler import DistributedSampler
from chainrule.distributed.world import (
    MPI_EXTRA_HINT,
    backend_name,
    barrier,
    init,
    is_initialized,
    is_main,
    mpi_available,
    rank,
    world_size,
)

__all__ = [
    "MPI_EXTRA_HINT", "DistributedDataParallel", "DistributedSampler", "abort_on_error",
    "all_gather", "all_gather_object", "all_reduce", "backend_name", "barrier", "broadcast",
    "broadcast_object", "broadcast_optimizer_state", "broadcast_parameters",
    "check_same_model", "init", "is_initialized", "is_main", "mpi_available", "rank",
    "world_size",
]
