"""The MPI world this process belongs to: who we are, how many we are, and the communicator.

``init()`` looks for the variables an MPI launcher (``mpiexec``) sets. Started without one,
or with one process, the world is this process alone and mpi4py is never imported, so a
plain run pays nothing. Otherwise mpi4py (the ``[mpi]`` extra) joins ``COMM_WORLD``.
"""

import os

MPI_EXTRA_HINT = 'pip install "chainrule[mpi]"'

# What launchers put in each rank's environment: MPICH/Hydra and Intel MPI (PMI_*),
# Open MPI, PMIx-based launchers and Slurm's srun.
_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS",
                   "SLURM_NTASKS")


class _Solo:
    """The world of one process: every collective returns what it was given."""

    rank, size = 0, 1
    name = "none (one process)"

    def barrier(self):
        pass

    def abort(self, code):
        os._exit(code)


class _Mpi:
    """The world of ``mpiexec``: mpi4py's ``COMM_WORLD``.

    Waits poll and yield the CPU between polls instead of spinning inside MPI: with more
    ranks than free cores (a shared machine, or the tests' 4 ranks on 2 cores) a spinning
    rank burns the time slice its partner needs to send what it waits for.
    """

    def __init__(self, MPI):
        self.MPI, self.comm = MPI, MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.name = implementation(MPI)

    def barrier(self):
        self.wait(self.comm.Ibarrier())

    def wait(self, request):
        test, pause = request.Test, os.sched_yield
        while not test():
            pause()

    def abort(self, code):
        self.comm.Abort(code)


_world = [None]  # the world, once init() has found it (a list: no `global` statements)


def launched_size():
    """How many processes the launcher started, from its environment variables; 1 without."""
    for name in _SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


def implementation(MPI):
    """A short name of the MPI library, as ``'MPICH 5.0.2'`` or ``'Open MPI v5.0.3'``."""
    first = MPI.Get_library_version().strip().splitlines()[0]
    return " ".join(first.replace("Version:", "").split()).rstrip(",")


def init():
    """Join the MPI world when launched by ``mpiexec`` with several processes; else a no-op.

    Safe to call more than once. Returns ``world_size()``. Under ``mpiexec -n 4`` without
    mpi4py installed it raises, naming the extra to install, rather than run four
    independent copies of the program.
    """
    if _world[0] is None:
        if launched_size() <= 1:
            _world[0] = _Solo()
        else:
            try:
                from mpi4py import MPI
            except ImportError:
                raise RuntimeError(
                    f"distributed.init: started by an MPI launcher with {launched_size()} "
                    f"processes, but mpi4py is not installed ({MPI_EXTRA_HINT})") from None
            _world[0] = _Mpi(MPI)
    return _world[0].size


def world():
    """The world object (``init()`` is called on first use)."""
    if _world[0] is None:
        init()
    return _world[0]


def rank():
    """This process's number, 0 to ``world_size() - 1``; 0 in a single process."""
    return world().rank


def world_size():
    """How many processes train together; 1 in a single process."""
    return world().size


def is_main():
    """True on rank 0: the one that prints, saves checkpoints and draws curves."""
    return world().rank == 0


def is_initialized():
    """True when the world has several processes (under ``mpiexec -n N``, N > 1)."""
    return world().size > 1


def barrier():
    """Wait until every rank has reached this line."""
    world().barrier()


def backend_name():
    """The MPI implementation in use (``'MPICH 5.0.2'``), or ``'none (one process)'``."""
    return world().name


def mpi_available():
    """The installed MPI library's name, or None without mpi4py (for ``chainrule info``).

    Importing ``mpi4py.MPI`` initialises MPI, so this is for commands that report, not for
    training loops.
    """
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    return implementation(MPI)
