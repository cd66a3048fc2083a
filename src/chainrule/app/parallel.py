"""Data-parallel training runs: the ranks of an MPI job, as the training command sees them.

``mpiexec -n 4 chainrule train`` starts four copies of the command; ``World.join()``
tells each one its rank. Every rank holds the same model and reads a quarter of each
global batch; ``chainrule.distributed`` averages the gradients, so the ranks stay
identical and a checkpoint written by rank 0 holds the whole state of the run, whatever
the number of ranks that resumes it. Numbers a rank counts alone (losses, correct
predictions) are summed over the ranks before anyone reports them, so every rank keeps
the same history and takes the same decisions (best epoch, divergence, Ctrl-C) without
waiting for another that never comes.

With one process nothing here imports MPI (``chainrule.distributed`` imports mpi4py only
under mpiexec), and a ``World`` of one rank does nothing.
"""

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys

import numpy as np

from chainrule import distributed as dist
from chainrule.data import DataLoader, Subset

# this process's rank as the launchers tell it: MPICH's hydra, Open MPI, PMIx, Slurm
RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID")
# the rank among those on this machine: MPICH's hydra, Open MPI, Slurm
LOCAL_RANK_VARIABLES = ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID")


class Quiet(SystemExit):
    """Leave with ``code`` and print nothing: another rank reports why."""


def environment_rank(names=RANK_VARIABLES):
    """This process's rank as mpiexec's variables give it (0 outside a job); no MPI call."""
    for name in names:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


def gpu_count():
    """How many CUDA devices CuPy sees on this machine (0 without CuPy or a GPU)."""
    from chainrule import backend

    if not backend.gpu_available():
        return 0
    return backend.import_cupy().cuda.runtime.getDeviceCount()


class World:
    """This run's ranks: ``rank``, ``size`` and ``main`` (rank 0, which alone writes files)."""

    def __init__(self, rank=0, size=1):
        self.rank, self.size, self.main = rank, size, rank == 0

    @classmethod
    def join(cls):
        """The MPI job this process was started in, or a world of one without mpiexec.

        Under mpiexec without mpi4py, ``dist.init`` refuses (naming the extra) rather than
        let N copies train alone and write over each other's files.
        """
        if dist.init() == 1:  # imports no MPI
            return cls()
        return cls(dist.rank(), dist.world_size())

    def __repr__(self):
        return f"World(rank={self.rank}, size={self.size})"

    def sum(self, *values):
        """Each value summed over the ranks, as float64 (NaN anywhere gives NaN)."""
        totals = np.array(values, dtype=np.float64)
        if self.size > 1:
            totals = np.asarray(dist.all_reduce(totals, op="sum"))
        return totals.tolist()

    def sum_counts(self, counts):
        """An integer array of counts (a confusion matrix) summed over the ranks, exactly."""
        counts = np.asarray(counts, dtype=np.int64)
        return np.asarray(dist.all_reduce(counts, op="sum")) if self.size > 1 else counts

    def together(self, task, errors):
        """``task()``'s result on this rank, once every rank has run its own ``task``.

        If ``task`` raised one of ``errors`` on any rank, every rank stops: the first
        failing rank raises its error (naming itself unless it is rank 0), the others
        leave quietly. For the setup before the first collective, so that a rank that
        cannot start (bad settings, a missing file) is reported once instead of leaving
        the others waiting for it.
        """
        try:
            result, error = task(), None
        except errors as failed:
            result, error = None, failed
        self.agree(error)
        return result

    def agree(self, error):
        """Raise the first failing rank's ``error`` there, Quiet elsewhere; None if none failed."""
        failed = np.zeros(self.size)
        failed[self.rank] = error is not None
        failed = np.flatnonzero(self.sum(*failed)) if self.size > 1 else np.flatnonzero(failed)
        if not len(failed):
            return
        if self.rank != failed[0]:
            raise Quiet(1)
        if self.rank != 0:  # a RuntimeError: any exception type takes this one sentence
            raise RuntimeError(f"rank {self.rank}: {' '.join(str(error).split())}") from None
        raise error

    def check_batch(self, batch_size):
        """The batch each rank takes from the global ``batch_size``; refused unless it divides."""
        if batch_size % self.size or batch_size < self.size:
            from chainrule.app.builders import ConfigError

            raise ConfigError(f"--batch-size {batch_size} is the global batch and must be a "
                              f"multiple of the {self.size} ranks, each taking an equal share")
        return batch_size // self.size

    def train_loader(self, dataset, batch_size, seed, epoch):
        """Epoch ``epoch``'s batches for this rank: its share of every global batch.

        One rank shuffles with the seed of the epoch, as a plain run always did. More ranks
        deal that same permutation out in turn (``DistributedSampler``), each taking
        ``batch_size / size`` per step, so the k-th global batch holds the same examples
        whatever the number of ranks (the last may repeat a few, to share evenly).
        """
        if self.size == 1:
            return DataLoader(dataset, batch_size, shuffle=True, seed=[seed, epoch])
        sampler = dist.DistributedSampler(dataset, shuffle=True, seed=seed, drop_last=False)
        sampler.set_epoch(epoch)
        return DataLoader(dataset, self.check_batch(batch_size), sampler=sampler)

    def device(self, device):
        """The device this rank trains on: ``cuda`` alone becomes this rank's GPU of its node.

        The ranks on one machine take its GPUs in turn (local rank modulo their count); a
        device with an index, or a world of one, is kept as given.
        """
        count = gpu_count() if self.size > 1 and str(device).lower() == "cuda" else 0
        if count == 0:  # no GPU: check_device refuses "cuda" in one sentence
            return device
        return f"cuda:{environment_rank(LOCAL_RANK_VARIABLES) % count}"

    def shard(self, dataset):
        """Every ``size``-th example from this rank's: the ranks' shards cover it once."""
        if self.size == 1:
            return dataset
        return Subset(dataset, np.arange(self.rank, len(dataset), self.size))

    def wrap(self, model):
        """``model`` whose gradients are averaged over the ranks during backward."""
        if self.size == 1:
            return model
        return dist.DistributedDataParallel(model)

    @contextlib.contextmanager
    def abort_on_error(self, collective=(), plain=(), command="train"):
        """An error on this rank ends every rank (naming this one), except ``collective`` ones.

        ``collective`` exceptions are raised by every rank at the same step (the ranks
        decided together), so they leave normally; any other would leave the other ranks
        waiting in a collective for ever, and aborts the job instead. A ``plain`` error (a
        file, a value: the user's to fix) is one line naming ``chainrule COMMAND`` and the
        rank, without traceback.
        """
        try:
            yield
        except collective:
            raise
        except BaseException as error:
            if self.size == 1:
                raise
            with dist.abort_on_error():
                if isinstance(error, plain):
                    message = " ".join(str(error).split()) or type(error).__name__
                    print(f"chainrule {command}: error: rank {self.rank}: {message}",
                          file=sys.stderr, flush=True)
                    raise SystemExit(1) from None
                raise


def find_mpiexec():
    """The mpiexec beside this Python (the ``[mpi]`` extra's), else the first on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which("mpiexec")
    if found is None:
        raise RuntimeError(f"--ranks needs mpiexec, found neither beside {sys.executable} nor "
                           f"on PATH ({dist.MPI_EXTRA_HINT})")
    return found


def launch(ranks, argv, command="train"):
    """Run ``chainrule COMMAND argv`` on ``ranks`` ranks under mpiexec; returns its exit status.

    Ctrl-C reaches the ranks too (they save a checkpoint and stop), so the launcher
    waits for them to leave instead of leaving first.
    """
    if importlib.util.find_spec("mpi4py") is None:
        raise RuntimeError(f"--ranks needs mpi4py, which this Python lacks ({dist.MPI_EXTRA_HINT})")
    job = subprocess.Popen([find_mpiexec(), "-n", str(ranks), sys.executable, "-m", "chainrule",
                            command, *argv])
    while True:
        try:
            return job.wait()
        except KeyboardInterrupt:
            continue


def without_ranks(argv):
    """``argv`` without its ``--ranks N`` (or ``--ranks=N``), for the ranks' own command."""
    rest, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--ranks":
            skip = True
        elif not arg.startswith("--ranks="):
            rest.append(arg)
    return rest


def describe_mpi():
    """``chainrule info``'s MPI line: mpi4py's version and the MPI library it runs on."""
    if importlib.util.find_spec("mpi4py") is None:
        return f"not installed: {dist.MPI_EXTRA_HINT}"
    import mpi4py

    mpi4py.rc.initialize = False  # the library's name is readable before MPI_Init: start nothing
    try:
        library = dist.mpi_available()
    except (ImportError, RuntimeError, OSError) as error:  # mpi4py built for a missing libmpi
        return f"mpi4py {mpi4py.__version__}, but its MPI library does not load ({error})"
    try:
        where = find_mpiexec()
    except RuntimeError:
        where = "not found"
    return f"mpi4py {mpi4py.__version__}, {library} (mpiexec: {where})"
