"""Data-parallel training on 2 and 4 ranks equals one process on the global batch.

All checks of one rank count run in one ``mpiexec`` launch (worker.py); each test reads its
part of the results.
"""

import subprocess
import sys
import time

import numpy as np
import pytest
from mpi_launch import ROOT, TIMEOUT, launch, mpiexec, rank_env

from chainrule.backend import gpu_available

CHECKS = ["collectives", "sgd_float64", "adam_float64", "sgd_float32", "adam_float32",
          "no_sync", "unused", "start_state", "sampler", "mismatch", "fake_cupy_nccl",
          "fake_cupy_host"]
TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


@pytest.fixture(scope="module", params=[2, 4], ids=lambda n: f"{n}ranks")
def ranks(request, tmp_path_factory):
    n = request.param
    done, results = launch(n, CHECKS, tmp_path_factory.mktemp(f"ranks{n}"))
    assert done.returncode == 0 and len(results) == n, done.stdout + done.stderr
    return n, results


def test_collectives_reduce_broadcast_and_gather_over_ranks(ranks):
    n, results = ranks
    expected = np.arange(4.0) * n + n * (n - 1) / 2
    for r, out in enumerate(result["collectives"] for result in results):
        assert out["rank"] == r and out["world_size"] == n and out["is_main"] == (r == 0)
        assert out["sum"] == expected.tolist()
        assert out["mean"] == (expected / n).tolist()
        assert out["max"] == (np.arange(4.0) + n - 1).tolist()
        assert out["max_is_variable"] == "Variable"
        assert out["min"] == np.arange(4.0).tolist()
        assert out["count"] == n * (n + 1) // 2
        assert out["input_unchanged"]
        assert out["broadcast"] == [10.0 * (n - 1)] * 3
        assert out["gathered"] == [[[k, k]] * (k + 1) for k in range(n)]
        assert out["object"] == {"rank": 0}
        assert out["float32_sum_dtype"] == "float32"


@pytest.mark.parametrize("check", ["sgd_float64", "adam_float64", "sgd_float32",
                                   "adam_float32", "no_sync", "unused"])
def test_ranks_train_as_one_process_on_the_global_batch(ranks, check):
    n, results = ranks
    outs = [result[check] for result in results]
    for out in outs:
        assert out["difference"] <= TOLERANCE[out["dtype"]], out
    assert len({out["digest"] for out in outs}) == 1  # bit-identical across ranks


def test_unused_parameters_wait_for_finish_gradient_synchronization(ranks):
    _, results = ranks
    for result in results:
        out = result["unused"]
        assert "finish_gradient_synchronization()" in out["refused"] and "1.W" in out["refused"]
        assert out["extra_grad"] == 0.0


def test_small_buckets_split_the_gradients(ranks):
    _, results = ranks
    assert results[0]["sgd_float64"]["buckets"] == 6  # bucket_mb=1e-4: one per parameter
    assert results[0]["adam_float64"]["buckets"] == 1


def test_construction_copies_rank0_parameters_and_optimizer_state(ranks):
    _, results = ranks
    outs = [result["start_state"] for result in results]
    assert len({out["digest"] for out in outs}) == 1
    assert {out["step"] for out in outs} == {6}  # 3 on rank 0 alone, then 3 together


def test_sampler_shards_are_disjoint_and_cover_the_dataset(ranks):
    n, results = ranks
    size = 11  # worker's dataset: not a multiple of 2 or 4
    for drop_last in (False, True):
        key = f"drop_last={drop_last}"
        shards = [result["sampler"][key] for result in results]
        per_rank = size // n if drop_last else -(-size // n)
        assert all(s["len"] == per_rank for s in shards)
        for epoch in range(2):
            taken = [i for s in shards for i in s["epochs"][epoch]]
            assert all(len(s["epochs"][epoch]) == per_rank for s in shards)
            if drop_last:
                assert len(set(taken)) == len(taken) == per_rank * n  # no overlap
            else:
                assert set(taken) == set(range(size))  # every example, padding repeats a few
                assert len(taken) - len(set(taken)) == per_rank * n - size
        assert shards[0]["epochs"][0] != shards[0]["epochs"][1]  # set_epoch reshuffles


def test_different_models_are_reported_on_every_rank(ranks):
    _, results = ranks
    for result in results:
        error = result["mismatch"]["error"]
        assert error is not None
        assert "rank 1" in error and "'0.W'" in error and "(5, 8)" in error and "(5, 7)" in error


@pytest.mark.parametrize("n", [2, 4])
def test_a_failing_rank_ends_every_rank_with_its_message(n, tmp_path):
    done, _ = launch(n, ["fault"], tmp_path)
    ended = time.time()
    assert done.returncode != 0
    assert ended - float((tmp_path / "failed_at").read_text()) < 30  # the limit
    assert "rank 1 failed: ValueError: an injected failure" in done.stderr + done.stdout


def test_cupy_gradients_average_on_the_gpus_as_one_cpu_process(tmp_path):
    cp = pytest.importorskip("cupy", reason="CuPy is not installed (the [gpu] extra)")
    if not gpu_available() or cp.cuda.runtime.getDeviceCount() < 2:
        pytest.skip("needs two CUDA GPUs (one per rank)")
    done, results = launch(2, ["cupy"], tmp_path)
    assert done.returncode == 0 and len(results) == 2, done.stdout + done.stderr
    for result in results:
        out = result["cupy"]
        assert out["difference"] <= 1e-12 and out["counts"] == [3, 3, 3] and out["counts_on_gpu"]
    assert results[0]["cupy"]["digest"] == results[1]["cupy"]["digest"]


@pytest.mark.parametrize("check", ["fake_cupy_nccl", "fake_cupy_host"])
def test_cupy_code_without_a_gpu_stages_through_host_memory_or_calls_nccl(ranks, check):
    """The CuPy code on the CPU, fake_cupy.py standing in for CuPy with NCCL and without:
    what surrounds the GPU is checked (MPI never sees a device array, results come back on
    the device, NCCL gets the buffers); no GPU ran. The real run is the test above."""
    n, results = ranks
    expected = np.arange(4.0) * n + n * (n - 1) / 2
    for out in (result[check] for result in results):
        assert out["on_device"] == sorted(["sum", "mean", "max", "min", "uint8_sum",
                                           "broadcast", "gathered"])
        assert out["sum"] == expected.tolist() and out["mean"] == (expected / n).tolist()
        assert out["max"] == (np.arange(4.0) + n - 1).tolist()
        assert out["min"] == np.arange(4.0).tolist() and out["input_unchanged"]
        assert out["uint8_sum"] == [n * (n + 1) // 2] * 3  # no NCCL code: by host memory
        assert out["broadcast"] == [10.0 * (n - 1)] * 3
        assert out["gathered"] == [[[k, k]] * (k + 1) for k in range(n)]
        assert out["difference"] <= TOLERANCE["float64"] and out["params_on_device"]
        assert out["nccl_calls"] == (["allReduce", "bcast"] if check.endswith("nccl") else [])
    assert len({result[check]["digest"] for result in results}) == 1


def test_the_docs_example_trains_on_two_ranks_and_only_rank0_prints(tmp_path):
    text = (ROOT / "docs" / "distributed.md").read_text(encoding="utf-8")
    script = tmp_path / "train.py"
    script.write_text(text.split("```python\n")[1].split("```")[0])
    done = subprocess.run([mpiexec(), "-n", "2", sys.executable, str(script)], env=rank_env(),
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    assert [line.split(":")[0] for line in done.stdout.splitlines()] == [
        "epoch 0", "epoch 1", "epoch 2"]
