"""save / load: exact round trips, atomic replacement under SIGKILL, clear errors on bad files."""

import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from chainrule import Variable
from chainrule.serialization import STRUCTURE_KEY, load, save


def assert_same(a, b, where="state"):
    """Equal values of equal types: arrays with the same dtype and shape, dicts in order."""
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape}"
        np.testing.assert_array_equal(a, b)
    else:
        both_nan = isinstance(a, float) and math.isnan(a) and math.isnan(b)
        assert a == b or both_nan, f"{where}: {a!r} != {b!r}"


def optimizer_like_state():
    rng = np.random.default_rng(0)
    return {
        "model": {
            "0.W": rng.standard_normal((4, 3)).astype(np.float32),
            "0.b": np.zeros(3, np.float32),
            "1.running_mean": rng.standard_normal(3),
            "1.num_batches": np.array(7, np.int64),
        },
        "optimizer": {
            "state": {0: {"step": np.int64(12), "exp_avg": rng.standard_normal((4, 3))},
                      1: {"step": np.int64(12), "exp_avg": np.ones(3, np.float16)}},
            "param_groups": [{"lr": 1e-3, "betas": [0.9, 0.999], "params": [0, 1],
                              "nesterov": False, "name": None}],
        },
        "epoch": 3,
        "best": np.float64(0.25),
        "history": [0.5, np.float32(0.25), 3],
        "loss": float("nan"),
        "note": "résumé ✓",
        "mask": np.array([[True, False]]),
        "pixels": np.arange(6, dtype=np.uint8).reshape(2, 3),
        "ids": np.arange(5, dtype=np.int32)[::2],  # not contiguous
        "empty": {},
        "nothing": np.zeros((0, 4), np.float32),
    }


def test_nested_state_round_trips_exactly(tmp_path):
    state = optimizer_like_state()
    save(state, tmp_path / "ckpt.safetensors")
    loaded = load(tmp_path / "ckpt.safetensors")
    assert_same(state | {"ids": np.ascontiguousarray(state["ids"])}, loaded)
    assert loaded["model"]["0.W"].flags.writeable


def test_keys_with_separators_do_not_clash(tmp_path):
    state = {"a/b": np.ones(1), "a": {"b": np.zeros(1), "b_": np.full(1, 2.0)}, "a.b": 1}
    save(state, tmp_path / "c.safetensors")
    assert_same(load(tmp_path / "c.safetensors"), state)


def test_tuples_load_as_lists(tmp_path):
    save({"shape": (2, 2), "pair": (np.ones(1), "x")}, tmp_path / "t")
    assert_same(load(tmp_path / "t"), {"shape": [2, 2], "pair": [np.ones(1), "x"]})


def test_file_is_plain_safetensors_with_readable_names(tmp_path):
    from safetensors.numpy import load_file

    state = optimizer_like_state()
    save(state, tmp_path / "c.safetensors")
    tensors = load_file(tmp_path / "c.safetensors")
    np.testing.assert_array_equal(tensors["model/0.W"], state["model"]["0.W"])
    assert "optimizer/state/1/exp_avg" in tensors


def test_foreign_safetensors_file_loads_as_flat_dict(tmp_path):
    from safetensors.numpy import save_file

    save_file({"layer.weight": np.eye(2, dtype=np.float32)}, tmp_path / "hf.safetensors")
    assert_same(load(tmp_path / "hf.safetensors"), {"layer.weight": np.eye(2, dtype=np.float32)})


def test_save_replaces_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "c.safetensors"
    save({"v": np.ones(2)}, path)
    save({"v": np.zeros(3)}, str(path))
    assert_same(load(path), {"v": np.zeros(3)})
    assert os.listdir(tmp_path) == ["c.safetensors"]


def test_failed_write_keeps_old_file_and_removes_temporary(tmp_path, monkeypatch):
    import safetensors.numpy

    path = tmp_path / "c.safetensors"
    save({"v": np.ones(2)}, path)

    def broken_save_file(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.numpy, "save_file", broken_save_file)
    with pytest.raises(OSError, match="disk full"):
        save({"v": np.zeros(2)}, path)
    assert_same(load(path), {"v": np.ones(2)})
    assert os.listdir(tmp_path) == ["c.safetensors"]


CHILD = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    from chainrule.serialization import save

    path, mode = sys.argv[1], sys.argv[2]
    state = {"W": np.full((1024, 1024), 2.0), "step": 2}  # 8 MiB
    if mode == "stall":
        def slow_fsync(fd):  # a disk that takes forever: the new file is written, not renamed
            print("fsync", flush=True)
            time.sleep(60)
        os.fsync = slow_fsync
        save(state, path)
    else:
        print("saving", flush=True)
        while True:
            save(state, path)
""")


def wait_until(condition, child):
    """Block until ``condition()`` holds, failing if the child dies first."""
    for _ in range(20_000):
        if condition():
            return
        assert child.poll() is None, "the saving process died on its own"
        time.sleep(0.001)
    raise AssertionError("the saving process never got there")


def temporaries(folder, name):
    return [f for f in os.listdir(folder) if f != name]


@pytest.mark.parametrize("mode", ["stall", "loop"])
def test_sigkill_mid_save_leaves_old_or_complete_checkpoint(tmp_path, mode):
    path = tmp_path / "ckpt.safetensors"
    old = {"W": np.full((1024, 1024), 1.0), "step": 1}
    save(old, path)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), mode],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() in ("fsync", "saving")
        if mode == "loop":  # let a new file land, then kill while the next one is written
            inode = os.stat(path).st_ino
            wait_until(lambda: os.stat(path).st_ino != inode, child)
            wait_until(lambda: temporaries(tmp_path, path.name), child)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
    # A killed save leaves hidden temporary files (ours, and in the loop possibly the one
    # safetensors writes before renaming it onto ours); load never reads them.
    leftovers = temporaries(tmp_path, path.name)
    assert all(f.startswith(".") and "tmp" in f for f in leftovers), leftovers
    if mode == "stall":  # killed before the rename: the old file is untouched
        assert len(leftovers) == 1 and leftovers[0].startswith(".ckpt.safetensors.")
        assert_same(load(path), old)
    else:  # killed while writing the next file: the last complete one is intact
        assert_same(load(path), {"W": np.full((1024, 1024), 2.0), "step": 2})


def test_missing_file_raises_file_not_found_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"load: no checkpoint at .*nope.safetensors"):
        load(tmp_path / "nope.safetensors")


BAD_FILES = {
    "empty": b"",
    "text": b"this is not a checkpoint, just some text in a file\n",
    "zip": b"PK\x03\x04" + bytes(200),
    "json": b'{"W": [1, 2, 3]}',
}


@pytest.mark.parametrize("content", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_foreign_file_raises_value_error_naming_it(tmp_path, content):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"load: .*bad.safetensors is not a readable "
                       r"safetensors checkpoint \(empty, truncated or another format"):
        load(path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.99])
def test_truncated_file_raises_value_error_naming_it(tmp_path, keep):
    path = tmp_path / "c.safetensors"
    save(optimizer_like_state(), path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ValueError, match=r"load: .*c.safetensors is not a readable safetensors"):
        load(path)


def test_damaged_structure_raises_value_error(tmp_path):
    from safetensors.numpy import save_file

    save_file({"a": np.ones(1)}, tmp_path / "c", metadata={STRUCTURE_KEY: '{"tensor": "b"}'})
    with pytest.raises(ValueError, match=r"load: .*c has a damaged chainrule.structure entry"):
        load(tmp_path / "c")


def test_folder_is_not_a_checkpoint(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder, not a checkpoint file"):
        load(tmp_path)


def test_save_into_missing_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"save: cannot write .*the folder .*no does"):
        save({"a": 1}, tmp_path / "no" / "c.safetensors")


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ([np.ones(1)], r"save: state must be a dict, got list"),
        ({"a": {1.5: np.ones(1)}}, r"dict keys must be str or int, got 1.5 at a"),
        ({"a": {"b": object()}}, r"cannot store object at a/b"),
        ({"W": Variable(np.ones(2))}, r"cannot store Variable at W"),
        ({"a": np.array([None, 1])}, r"cannot store an object array at a"),
    ],
)
def test_unsupported_state_raises_type_error_naming_the_key(tmp_path, state, message):
    with pytest.raises(TypeError, match=message):
        save(state, tmp_path / "c")
    assert os.listdir(tmp_path) == []


def test_missing_safetensors_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    with pytest.raises(ImportError, match="pip install safetensors"):
        save({"a": 1}, tmp_path / "c")


def test_import_chainrule_does_not_import_safetensors():
    code = "import sys, chainrule, chainrule.serialization; print('safetensors' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
