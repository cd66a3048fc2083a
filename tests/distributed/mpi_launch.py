"""Launching ranks for tests/distributed: ``mpiexec -n N`` on worker.py, with a timeout.

Without mpi4py (the ``[mpi]`` extra) every test here skips, saying so. Four ranks
oversubscribe a two-core machine; MPICH's ranks then take turns, which is slow but correct.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

WORKER = pathlib.Path(__file__).with_name("worker.py")
ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src"
TIMEOUT = 120  # a hang fails the test instead of blocking CI


def mpiexec():
    """The launcher beside this Python (the mpich wheel puts it there), else on PATH."""
    pytest.importorskip("mpi4py", reason='mpi4py is not installed: pip install ".[mpi]"')
    beside = pathlib.Path(sys.executable).with_name("mpiexec")
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.skip("mpi4py is installed but no mpiexec was found")
    return found


def rank_env():
    """This checkout's chainrule first on the path, one BLAS thread per rank."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(SOURCE)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
        OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")


def launch(n, checks, tmp_path, timeout=TIMEOUT):
    """Run worker.py's ``checks`` on ``n`` ranks; (completed process, results by rank)."""
    command = [mpiexec(), "-n", str(n), sys.executable, str(WORKER), str(tmp_path), *checks]
    try:
        done = subprocess.run(command, env=rank_env(), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as hung:
        pytest.fail(f"mpiexec -n {n} {' '.join(checks)} hung for {timeout} s:\n"
                    f"{hung.stdout}\n{hung.stderr}")
    results = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("rank*.json"))]
    return done, results
