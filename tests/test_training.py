"""The training loop: repeatable runs, exact resumption, checkpoints, metrics and builders."""

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule.app import builders, evaluation, runfiles, runtime, training
from chainrule.serialization import save

pytest.importorskip("safetensors")  # checkpoints are safetensors files


def small(**changes):
    """A config that trains in a fraction of a second."""
    values = {"hidden": [16], "epochs": 2, "batch_size": 64, "scheduler": "none"}
    return training.TrainConfig(**{**values, **changes})


def trained(config, out_dir, epochs=None):
    """A Trainer of ``config`` run for ``epochs`` of its epochs (all by default)."""
    trainer = training.Trainer(config, str(out_dir), log=lambda line: None)
    for epoch in range(1, (epochs or config.epochs) + 1):
        trainer.train_epoch(epoch)
    return trainer


def test_defaults_come_from_the_dataset():
    assert (training.TrainConfig().epochs, training.TrainConfig().lr) == (20, 2e-3)
    spiral = training.TrainConfig(dataset="spiral")
    assert (spiral.epochs, spiral.lr) == (200, 1e-2)
    assert training.TrainConfig(dataset="spiral", epochs=3).epochs == 3


def test_same_seed_gives_the_same_numbers_and_another_seed_does_not(tmp_path):
    runs = [trained(small(seed=s), tmp_path / str(i)).history
            for i, s in enumerate((7, 7, 8))]
    for name in ("train_loss", "train_acc", "test_acc"):
        assert runs[0][name] == runs[1][name]
    assert runs[0]["train_loss"] != runs[2]["train_loss"]


@pytest.mark.parametrize("scheduler", ["none", "cosine"])
def test_a_resumed_run_continues_with_the_numbers_of_an_unbroken_one(tmp_path, scheduler):
    config = small(epochs=3, scheduler=scheduler, optimizer="adam")
    whole = trained(config, tmp_path / "whole")
    first = trained(config, tmp_path / "first", epochs=1)
    path = first.save("final.safetensors")
    second = training.Trainer(config, str(tmp_path / "second"), log=lambda line: None)
    second.restore(training.read_checkpoint(path), path)
    summary = second.run()
    assert summary["epochs"] == 3
    for name in ("train_loss", "train_acc", "test_acc", "lr"):
        assert second.history[name] == pytest.approx(whole.history[name], rel=1e-6)


def test_run_writes_checkpoints_metrics_config_and_curves(tmp_path):
    lines = []
    trainer = training.Trainer(small(), str(tmp_path), log=lines.append)
    summary = trainer.run()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best.safetensors", "config.json", "curves.png", "final.safetensors", "metrics.csv"]
    rows = runfiles.read_metrics(tmp_path / "metrics.csv")
    assert [row["epoch"] for row in rows] == [1, 2]
    assert rows[-1]["test_acc"] == pytest.approx(summary["test_acc"], abs=1e-6)
    assert len(lines) == 2 and lines[0].startswith("epoch   1/2  train loss")
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["hidden"] == [16] and config["batch_size"] == 64 and config["seed"] == 0
    state = training.read_checkpoint(tmp_path / "final.safetensors")
    assert state["epoch"] == 2 and state["config"]["hidden"] == [16]
    assert set(state["model"]) == {"1.W", "1.b", "3.W", "3.b"}
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG")


def test_the_best_checkpoint_holds_the_best_test_accuracy(tmp_path):
    trainer = training.Trainer(small(epochs=3, lr=0.05), str(tmp_path), log=lambda line: None)
    trainer.run()
    best = training.read_checkpoint(tmp_path / "best.safetensors")
    history = trainer.history["test_acc"]
    assert best["history"]["test_acc"][-1] == max(history)
    assert best["epoch"] == history.index(max(history)) + 1


def test_evaluate_checkpoint_counts_every_test_example(tmp_path):
    trained(small(), tmp_path).save("final.safetensors")
    acc, matrix, png = training.evaluate_checkpoint(str(tmp_path / "final.safetensors"),
                                                    log=lambda line: None)
    assert matrix.shape == (10, 10) and matrix.sum() == 360
    assert acc == pytest.approx(np.trace(matrix) / 360)
    assert png.endswith("final-confusion.png")


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    matrix = evaluation.confusion_matrix([0, 0, 1, 2], [0, 1, 1, 0], 3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 0]])
    assert runfiles.format_confusion(matrix).splitlines()[0] == "true\\pred   0   1   2"


def test_checkpoints_that_cannot_be_used_are_refused_in_one_sentence(tmp_path):
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(training.CheckpointError, match="cannot read checkpoint"):
        training.read_checkpoint(garbage)
    save({"weights": np.zeros(3)}, tmp_path / "other.safetensors")
    with pytest.raises(training.CheckpointError, match="not a chainrule training checkpoint"):
        training.read_checkpoint(tmp_path / "other.safetensors")
    path = trained(small(), tmp_path / "run").save("final.safetensors")
    wider = training.Trainer(small(hidden=[32]), str(tmp_path), log=lambda line: None)
    with pytest.raises(training.CheckpointError, match="does not fit.*1.W"):
        wider.restore(training.read_checkpoint(path), path)


def test_bad_settings_are_refused_before_training(tmp_path):
    with pytest.raises(builders.ConfigError, match="unknown dataset 'cifar'"):
        training.Trainer(small(dataset="cifar"), str(tmp_path))
    with pytest.raises(builders.ConfigError, match="--epochs must be at least 1, got 0"):
        training.Trainer(small(epochs=0), str(tmp_path))
    with pytest.raises(builders.ConfigError, match="unknown settings colour"):
        training.TrainConfig.from_dict({"colour": "red"})
    with pytest.raises(builders.ConfigError, match="--threads"):
        runtime.blas_threads(-1)


def test_threads_setting_bounds_the_elementwise_threads_too():
    from chainrule import backend_threads

    before = backend_threads.threads()
    with runtime.blas_threads(1):
        assert backend_threads.threads() == 1
    assert backend_threads.threads() == before
    with runtime.blas_threads(0):  # 0 leaves every setting alone
        assert backend_threads.threads() == before


def test_mlp_and_cnn_give_class_scores_for_a_batch():
    x = cr.Variable(np.zeros((5, 1, 8, 8), np.float32), requires_grad=False)
    mlp = builders.build_model("mlp", (1, 8, 8), 10, hidden=[32, 16])
    assert mlp(x).shape == (5, 10)
    assert [p.shape for p in mlp.parameters()][::2] == [(64, 32), (32, 16), (16, 10)]
    cnn = builders.build_model("cnn", (1, 8, 8), 10, hidden=[32], channels=4)
    assert cnn(x).shape == (5, 10)
    with pytest.raises(builders.ConfigError, match="needs images"):
        builders.build_model("cnn", (2,), 3)
    with pytest.raises(builders.ConfigError, match="--hidden takes positive integers"):
        builders.build_model("mlp", (2,), 3, hidden=[0])


@pytest.mark.parametrize("name", builders.OPTIMIZERS)
def test_every_optimizer_name_builds_an_optimizer(name):
    model = builders.build_model("mlp", (4,), 3, hidden=[5])
    assert builders.build_optimizer(name, model.parameters(), lr=0.1).param_groups[0]["lr"] == 0.1


def test_progress_bar_is_off_when_stderr_is_not_a_terminal(capsys):
    assert runtime.progress_bar(100, "epoch 1/1") is None


def test_a_diverging_run_stops_at_the_first_nan_loss_and_keeps_the_last_good_weights(tmp_path):
    trainer = training.Trainer(small(epochs=3), str(tmp_path), log=lambda line: None)
    original = trainer.train_epoch

    def train_epoch(epoch):  # epoch 1 trains well, then the learning rate explodes
        original(epoch)
        trainer.optimizer.param_groups[0]["lr"] = 1e30

    trainer.train_epoch = train_epoch
    with pytest.raises(training.Diverged, match=r"loss became nan at epoch 2, step 2 with "
                       r"learning rate 1e\+30; lower --lr, or run with --detect-anomaly.*epoch 1.*"
                       r"last-good") as stop:
        trainer.run()
    assert stop.value.path == str(tmp_path / "last-good.safetensors")
    state = training.read_checkpoint(stop.value.path)
    assert state["epoch"] == 1 and state["history"]["epoch"] == [1]
    assert all(np.isfinite(w).all() for w in state["model"].values())
    model = training.make_model(small(), (64,))
    model.load_state_dict(state["model"])  # loads back into the model it came from
    assert (tmp_path / "best.safetensors").exists()
    assert not (tmp_path / "final.safetensors").exists()


def test_weights_that_overflow_at_an_epoch_end_stop_the_run(tmp_path):
    trainer = training.Trainer(small(epochs=2), str(tmp_path), log=lambda line: None)
    original = trainer.steps

    def steps(loader, desc):
        result = original(loader, desc)
        next(iter(trainer.model.parameters())).data[0] = np.inf  # as an overflowing update
        return result

    trainer.steps = steps
    with pytest.raises(training.Diverged, match=r"became non-finite at epoch 1, step 23 .*epoch 0"):
        trainer.run()
    state = training.read_checkpoint(tmp_path / "last-good.safetensors")
    assert all(np.isfinite(w).all() for w in state["model"].values())


def test_anomaly_mode_turns_the_first_non_finite_operation_into_divergence(tmp_path):
    trainer = training.Trainer(small(lr=1e30, optimizer="sgd"), str(tmp_path),
                               log=lambda line: None)
    with cr.detect_anomaly(), pytest.raises(training.Diverged) as stop:
        trainer.run()
    message = str(stop.value)
    assert "anomaly mode" in message and "epoch 1, step" in message
    assert "--detect-anomaly" not in message and "lower --lr" in message
    state = training.read_checkpoint(stop.value.path)
    assert state["epoch"] == 0 and all(np.isfinite(w).all() for w in state["model"].values())
