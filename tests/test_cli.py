"""The ``chainrule`` command end to end, each run in its own process as a user would type it."""

import json
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
APPLE = "(apple*apple_num + orange*orange_num)*tax"
PRICES = ["apple=100", "apple_num=2", "orange=150", "orange_num=3", "tax=1.1"]
SMALL = ["--hidden", "16", "--epochs", "1", "--batch-size", "64"]


def chainrule(*args, cwd=None, timeout=120):
    """Run ``python -m chainrule ARGS`` in a fresh process; returns the CompletedProcess."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}  # two test workers share two cores
    return subprocess.run([sys.executable, "-m", "chainrule", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout,
                          check=False)


def needs(*modules):
    for module in modules:
        pytest.importorskip(module)


def _installed(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def assert_one_line_error(done, *phrases):
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    for phrase in phrases:
        assert phrase in done.stderr


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One small training run shared by the tests that read, resume or evaluate it."""
    needs("safetensors")
    out = tmp_path_factory.mktemp("run")
    done = chainrule("train", *SMALL, "--out", out)
    assert done.returncode == 0, done.stderr
    return out, done


def test_graph_prints_the_apple_values_and_gradients(tmp_path):
    done = chainrule("graph", APPLE, "--set", *PRICES, "--out", tmp_path / "apple.dot")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{APPLE} = 715.0000000000001"
    assert lines[1:6] == ["  d/dapple = 2.2", "  d/dapple_num = 110.00000000000001",
                          "  d/dorange = 3.3000000000000003", "  d/dorange_num = 165",
                          "  d/dtax = 650"]
    dot = (tmp_path / "apple.dot").read_text()
    assert dot.startswith("digraph") and "tax\\n1.1\\ngrad 650" in dot


def test_graph_draws_svg_that_parses_with_shapes(tmp_path):
    done = chainrule("graph", APPLE, "--set", *PRICES, "--out", tmp_path / "apple.svg")
    assert done.returncode == 0, done.stderr
    root = ET.parse(tmp_path / "apple.svg").getroot()
    tags = {el.tag.rpartition("}")[2] for el in root.iter()}
    assert root.tag.endswith("svg") and tags & {"ellipse", "polygon", "rect", "path"}
    assert "715.0000000000001" in (tmp_path / "apple.svg").read_text()


def test_graph_draws_png(tmp_path):
    needs("matplotlib")  # the drawing without graphviz; with it, dot draws the PNG
    done = chainrule("graph", "F.exp(x) * y", "--set", "x=0", "y=2", "--out",
                     tmp_path / "g.png")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    data = (tmp_path / "g.png").read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 2000


def test_graph_without_out_prints_dot(tmp_path):
    done = chainrule("graph", "x*x", "--set", "x=3")
    assert done.returncode == 0
    assert "x*x = 9" in done.stdout and "d/dx = 6" in done.stdout
    assert "digraph chainrule" in done.stdout and 'label="mul"' in done.stdout


def test_info_reports_versions_backends_and_extras():
    done = chainrule("info")
    assert done.returncode == 0, done.stderr
    for text in ("chainrule 0.1.0", "numpy ", "array backends and devices:", "numpy: cpu",
                 "cupy", "extras", "train", "viz", "gpu", "graphviz program dot", "\nmpi: "):
        assert text in done.stdout


def test_train_writes_the_run_folder(run_dir):
    out, done = run_dir
    names = {p.name for p in out.iterdir()}
    assert names >= {"best.safetensors", "config.json", "final.safetensors", "metrics.csv"}
    if "curves.png" in names or _installed("matplotlib"):
        assert (out / "curves.png").read_bytes().startswith(PNG_SIGNATURE)
    assert "epoch   1/1  train loss" in done.stdout and "test acc" in done.stdout
    config = json.loads((out / "config.json").read_text())
    assert (config["dataset"], config["model"], config["hidden"], config["epochs"]) == (
        "digits", "mlp", [16], 1)
    assert (out / "metrics.csv").read_text().splitlines()[0].startswith("epoch,train_loss")


def test_train_resumes_from_its_checkpoint(run_dir, tmp_path):
    out, _ = run_dir
    done = chainrule("train", "--resume", out / "final.safetensors", "--epochs", "2",
                     "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "epoch   2/2" in done.stdout and "epoch   1/" not in done.stdout
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == ["1", "2"]


def test_eval_prints_accuracy_and_confusion_matrix(run_dir, tmp_path):
    out, _ = run_dir
    done = chainrule("eval", out / "final.safetensors", "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("test accuracy ") and "/360)" in done.stdout
    assert "true\\pred   0   1   2" in done.stdout
    png = tmp_path / "final-confusion.png"
    if "wrote" in done.stdout:  # matplotlib installed
        assert png.read_bytes().startswith(PNG_SIGNATURE)


def test_default_train_reaches_97_percent(tmp_path):
    needs("safetensors")
    done = chainrule("train", cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    accuracy = float(done.stdout.split("test accuracy ")[1].split("%")[0])
    assert accuracy >= 97.0
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name.endswith("-digits-mlp")


def test_ctrl_c_saves_a_checkpoint_and_exits_non_zero(tmp_path):
    needs("safetensors")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "chainrule.app.cli", "train", "--dataset", "spiral",
         "--epochs", "100000", "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    process.stdout.readline()  # the banner
    process.stdout.readline()  # epoch 1 is done: training is under way
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in err and "interrupted" in err and "--resume" in err
    assert (tmp_path / "interrupted.safetensors").stat().st_size > 0


@pytest.mark.parametrize("args, phrases", [
    (["train", "--dataset", "cifar"], ["invalid choice: 'cifar'"]),
    (["train", "--model", "rnn"], ["invalid choice: 'rnn'"]),
    (["train", "--epochs", "many"], ["invalid int value"]),
    (["train", "--dataset", "mnist", "--data-dir", "{tmp}/none"], ["missing", "--download"]),
    (["train", "--device", "cuda", "--epochs", "1", "--out", "{tmp}/gpu"], ["--device cuda"]),
    (["train", "--model", "cnn", "--dataset", "spiral"], ["needs images"]),
    (["train", "--out", "{tmp}/file.txt/run"], ["cannot write to the output folder"]),
    (["eval", "{tmp}/file.txt"], ["cannot read checkpoint"]),
    (["eval", "{tmp}/missing.safetensors"], ["cannot read checkpoint", "no checkpoint"]),
    (["train", "--resume", "{tmp}/file.txt"], ["cannot read checkpoint"]),
    (["graph", "a % b", "--set", "a=1", "b=2"], ["operator %"]),
    (["graph", "__import__('os').system('echo hi')"], ["not allowed"]),
    (["graph", "x*y", "--set", "x=1"], ["no value for y"]),
    (["graph", "x", "--set", "x=one"], ["'one' is not a number"]),
    (["graph", "x*2", "--set", "x=1", "--out", "{tmp}/g.pdf"], ["cannot tell the format"]),
    (["frobnicate"], ["invalid choice"]),
])
def test_bad_input_gives_one_sentence_and_a_non_zero_exit(tmp_path, args, phrases):
    (tmp_path / "file.txt").write_text("not a checkpoint")
    done = chainrule(*[a.format(tmp=tmp_path) for a in args])
    if args[:3] == ["train", "--device", "cuda"] and done.returncode == 0:
        pytest.skip("a CUDA GPU is available here")
    assert_one_line_error(done, *phrases)


def test_a_checkpoint_of_another_model_is_refused(run_dir, tmp_path):
    out, _ = run_dir
    done = chainrule("train", "--resume", out / "final.safetensors", "--hidden", "32",
                     "--out", tmp_path)
    assert_one_line_error(done, "does not fit", "mis-shaped")


def test_a_diverging_train_stops_with_one_sentence_and_keeps_the_last_good_checkpoint(tmp_path):
    needs("safetensors")
    done = chainrule("train", "--model", "cnn", "--channels", "4", "--epochs", "3",
                     "--lr", "1e9", "--out", tmp_path)
    assert_one_line_error(done, "loss became nan at epoch 1, step 2", "learning rate 1e+09",
                          "lower --lr", "last-good.safetensors")
    assert "done" not in done.stdout and "train loss" not in done.stdout
    from chainrule.app import training

    state = training.read_checkpoint(tmp_path / "last-good.safetensors")
    assert all(np.isfinite(w).all() for w in state["model"].values())


def test_train_detect_anomaly_names_the_operation_that_made_the_first_inf(tmp_path):
    needs("safetensors")
    done = chainrule("train", "--model", "cnn", "--channels", "4", "--epochs", "3",
                     "--lr", "1e9", "--detect-anomaly", "--out", tmp_path)
    assert_one_line_error(done, "training diverged: linear: produced inf", "anomaly mode",
                          "epoch 1, step 2", "learning rate 1e+09", "last-good.safetensors")
    assert "--detect-anomaly to find" not in done.stderr  # it is on already
    assert (tmp_path / "last-good.safetensors").exists()
