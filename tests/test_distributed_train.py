"""``chainrule train`` data-parallel: real ``mpiexec -n 2`` runs of the command on the digits.

Each run is a few small epochs, so that the two ranks (which share the machine's cores with
the other test worker) finish in seconds; every run has a timeout, so a rank left waiting
fails the test instead of hanging the suite.
"""

import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from chainrule.app import parallel

SMALL = ["--hidden", "32", "--batch-size", "64", "--lr", "0.01", "--scheduler", "none"]
TIMEOUT = 90  # seconds for a whole small run; a hang shows up as a failure


def _mpiexec_or_none():
    try:
        return parallel.find_mpiexec()
    except RuntimeError:
        return None


needs_mpi = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or _mpiexec_or_none() is None,
    reason='data-parallel runs need mpi4py and mpiexec (pip install "chainrule[mpi]")')


def environment():
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1"}  # one core per rank


def train(*args, ranks=1, program=("-m", "chainrule"), timeout=TIMEOUT, command="train"):
    """``chainrule train ARGS`` on ``ranks`` ranks (1: no mpiexec); the CompletedProcess."""
    command = [sys.executable, *program, command, *map(str, args)]
    if ranks > 1:
        command = [_mpiexec_or_none(), "-n", str(ranks), *command]
    return subprocess.run(command, capture_output=True, text=True, env=environment(),
                          timeout=timeout, check=False)


def metrics(folder):
    with open(folder / "metrics.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three epochs on one process and on two ranks, same global batch and seed."""
    if importlib.util.find_spec("mpi4py") is None or _mpiexec_or_none() is None:
        pytest.skip('data-parallel runs need mpi4py and mpiexec (pip install "chainrule[mpi]")')
    done = {}
    for ranks in (1, 2):
        out = tmp_path_factory.mktemp(f"ranks{ranks}")
        done[ranks] = out, train(*SMALL, "--epochs", 3, "--out", out, ranks=ranks)
        assert done[ranks][1].returncode == 0, done[ranks][1].stderr
    return done


@needs_mpi
def test_two_ranks_learn_as_one_process_on_the_same_global_batch(runs):
    one, two = metrics(runs[1][0]), metrics(runs[2][0])
    assert [row["epoch"] for row in two] == [1, 2, 3]
    for a, b in zip(one, two):  # the same global batches; the last repeats an example on 2
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=0.01)
        assert b["test_acc"] == pytest.approx(a["test_acc"], abs=2.5 / 360)  # 2 examples
    assert two[-1]["test_acc"] > 0.85  # and it learns: 10 digits, chance is 0.1


@needs_mpi
def test_only_rank_0_prints_and_writes_one_set_of_run_files(runs):
    out, done = runs[2]
    assert done.stdout.count("training mlp on digits") == 1 and "on 2 ranks" in done.stdout
    assert [line.split("/")[0].split()[-1] for line in done.stdout.splitlines()
            if line.startswith("epoch")] == ["1", "2", "3"]
    assert done.stdout.count("done in") == 1 and done.stderr == ""
    names = sorted(p.name for p in out.iterdir())
    expected = ["best.safetensors", "config.json", "final.safetensors", "metrics.csv"]
    assert [n for n in names if n != "curves.png"] == expected
    assert json.loads((out / "config.json").read_text())["ranks"] == 2


@needs_mpi
@pytest.mark.parametrize("before, after", [(2, 1), (1, 2)])
def test_a_checkpoint_resumes_on_another_number_of_ranks(runs, tmp_path, before, after):
    first = runs[before][0]
    done = train("--resume", first / "final.safetensors", "--epochs", 4, "--out", tmp_path,
                 ranks=after)
    assert done.returncode == 0, done.stderr
    assert "epoch   4/4" in done.stdout and "epoch   3/" not in done.stdout
    rows, earlier = metrics(tmp_path), metrics(first)
    assert rows[:3] == earlier  # the checkpoint's history, carried over whole
    assert rows[3]["epoch"] == 4 and rows[3]["train_loss"] < earlier[2]["train_loss"]


@needs_mpi
def test_ranks_starts_mpiexec_itself(tmp_path):
    done = train(*SMALL, "--epochs", 1, "--ranks", 2, "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "on 2 ranks" in done.stdout and done.stdout.count("epoch   1/1") == 1
    assert json.loads((tmp_path / "config.json").read_text())["ranks"] == 2


@needs_mpi
@pytest.mark.parametrize("batch", [33, 1])
def test_a_global_batch_the_ranks_cannot_share_is_refused_in_one_sentence(tmp_path, batch):
    for done in (train("--batch-size", batch, "--ranks", 2, "--out", tmp_path),
                 train("--batch-size", batch, "--out", tmp_path, ranks=2)):
        assert done.returncode != 0
        assert done.stderr.strip().splitlines() == [
            f"chainrule train: error: --batch-size {batch} is the global batch and must be a "
            "multiple of the 2 ranks, each taking an equal share"]
    assert not any(tmp_path.iterdir())


FAULTY = """
    import os, sys
    from chainrule.app import cli, training

    if os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK")) == "1":
        halt = training.Trainer.halt_before_step

        def fail_at_step_3(self, value):
            if self.step == 3:
                raise ValueError("injected fault at step 3")
            return halt(self, value)

        training.Trainer.halt_before_step = fail_at_step_3
    sys.exit(cli.main())
"""


@needs_mpi
def test_a_rank_that_raises_ends_every_rank_naming_itself(tmp_path):
    program = tmp_path / "faulty.py"
    program.write_text(textwrap.dedent(FAULTY))
    started = time.monotonic()
    done = train(*SMALL, "--epochs", 2, "--out", tmp_path / "run", ranks=2,
                 program=(str(program),), timeout=30)  # TimeoutExpired: a rank hung
    assert done.returncode != 0
    assert "chainrule train: error: rank 1: injected fault at step 3" in done.stderr
    assert "rank 1 failed" in done.stderr and "Traceback" not in done.stderr
    assert time.monotonic() - started < 30
    assert not (tmp_path / "run" / "final.safetensors").exists()


NO_DATA_ON_RANK_1 = """
    import os, sys
    from chainrule.app import builders, cli

    if os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK")) == "1":
        def no_data(*args):
            raise OSError("digits.csv.gz is missing here")

        builders.load_datasets = no_data
    sys.exit(cli.main())
"""


@needs_mpi
def test_a_rank_that_cannot_start_is_reported_by_itself_alone(tmp_path):
    program = tmp_path / "no_data.py"
    program.write_text(textwrap.dedent(NO_DATA_ON_RANK_1))
    done = train(*SMALL, "--out", tmp_path / "run", ranks=2, program=(str(program),),
                 timeout=30)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "chainrule train: error: rank 1: digits.csv.gz is missing here"]
    assert not (tmp_path / "run").exists()  # rank 0 made no folder for a run that never began


@needs_mpi
def test_a_diverging_run_stops_every_rank_at_the_same_step(tmp_path):
    done = train("--model", "cnn", "--channels", 4, "--epochs", 2, "--lr", "1e9",
                 "--out", tmp_path, ranks=2)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()  # rank 0 alone reports it
    assert "training diverged: the loss became nan at epoch 1, step 2" in line
    assert "last-good.safetensors" in line
    assert (tmp_path / "last-good.safetensors").exists()


@needs_mpi
def test_ctrl_c_stops_every_rank_at_the_same_step_and_rank_0_saves(tmp_path):
    command = [_mpiexec_or_none(), "-n", "2", sys.executable, "-m", "chainrule", "train",
               *SMALL, "--epochs", "100000", "--out", str(tmp_path)]
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=environment())
    try:
        job.stdout.readline()  # the banner
        job.stdout.readline()  # epoch 1 is done: training is under way
        job.send_signal(signal.SIGINT)  # mpiexec hands it to every rank
        _, err = job.communicate(timeout=30)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode == 130
    assert err.count("chainrule: interrupted during epoch") == 1 and "Traceback" not in err
    assert (tmp_path / "interrupted.safetensors").stat().st_size > 0


def evaluate(*args, ranks=1, timeout=TIMEOUT):
    """``chainrule eval ARGS`` on ``ranks`` ranks (1: no mpiexec); the CompletedProcess."""
    return train(*args, ranks=ranks, timeout=timeout, command="eval")


@needs_mpi
def test_eval_on_ranks_sums_their_shards_into_the_one_process_matrix(runs, tmp_path):
    checkpoint = runs[2][0] / "final.safetensors"
    one = evaluate(checkpoint, "--out", tmp_path / "one")
    assert one.returncode == 0, one.stderr
    summary, *table = [line for line in one.stdout.splitlines() if not line.startswith("wrote")]
    for ranks, done in [(2, evaluate(checkpoint, "--out", tmp_path / "two", ranks=2)),
                        (3, evaluate(checkpoint, "--out", tmp_path / "three", "--ranks", 3))]:
        assert done.returncode == 0 and done.stderr == "", done.stderr
        lines = [line for line in done.stdout.splitlines() if not line.startswith("wrote")]
        # rank 0 alone prints; the shards' counts add up to the 360 test digits, once each
        assert lines == [f"{summary} on {ranks} ranks", *table] and "/360)" in summary


@needs_mpi
def test_eval_on_ranks_that_cannot_read_the_checkpoint_reports_it_once(tmp_path):
    started = time.monotonic()
    done = evaluate(tmp_path / "missing.safetensors", ranks=2, timeout=30)
    assert done.returncode == 1 and done.stdout == "" and time.monotonic() - started < 30
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("chainrule eval: error: ") and "missing.safetensors" in line


@pytest.mark.parametrize("command", ["train", "eval"])
def test_ranks_below_one_is_refused_in_one_sentence(command, capsys, tmp_path):
    from chainrule.app import cli

    args = ["--out", str(tmp_path)] if command == "train" else [str(tmp_path / "x")]
    assert cli.main([command, *args, "--ranks", "0"]) == 2
    assert capsys.readouterr().err.strip() == (
        "chainrule: error: --ranks must be at least 1, got 0")


def test_without_ranks_leaves_the_ranks_their_own_command():
    assert parallel.without_ranks(["--ranks", "4", "--epochs", "2", "--ranks=3"]) == [
        "--epochs", "2"]


def test_info_names_the_extra_when_mpi4py_is_missing(monkeypatch):
    monkeypatch.setattr(parallel.importlib.util, "find_spec", lambda name: None)
    assert parallel.describe_mpi() == 'not installed: pip install "chainrule[mpi]"'


@needs_mpi
def test_info_names_the_mpi_library():
    # in a process of its own: reading the library's name loads MPI, here left uninitialised
    code = "from chainrule.app import parallel; print(parallel.describe_mpi())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=environment(), timeout=60, check=True)
    line = done.stdout.strip()
    assert line.startswith("mpi4py ") and "mpiexec: " in line
    assert any(name in line for name in ("MPICH", "Open MPI", "Intel", "MVAPICH")), line


def test_ranks_without_mpiexec_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setattr(parallel.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match=r"--ranks needs mpiexec.*chainrule\[mpi\]"):
        parallel.find_mpiexec()


def test_a_world_of_one_shares_nothing():
    world = parallel.World()
    assert world.sum(3, 4.5) == [3.0, 4.5] and world.check_batch(7) == 7
    assert world.wrap(sentinel := object()) is sentinel


def test_the_ranks_of_a_machine_take_its_gpus_in_turn(monkeypatch):
    monkeypatch.setattr(parallel, "gpu_count", lambda: 2)
    monkeypatch.setenv("MPI_LOCALRANKID", "3")
    world = parallel.World(rank=7, size=8)
    assert [world.device(d) for d in ("cuda", "cuda:0", "cpu")] == ["cuda:1", "cuda:0", "cpu"]
    assert parallel.World().device("cuda") == "cuda"  # one process: as given

