import numpy as np
import pytest

from chainrule import nn


def cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, pad=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Sequential(nn.Flatten(), nn.Linear(4 * 6 * 6, 10)))


def test_summary_lists_layers_in_call_order_with_shapes_and_own_counts(capsys):
    result = nn.summary(cnn(), (2, 1, 6, 6))
    assert [(r.name, r.kind, r.output_shape, r.params, r.depth) for r in result.rows] == [
        ("0", "Conv2d", (2, 4, 6, 6), 40, 0),
        ("1", "BatchNorm2d", (2, 4, 6, 6), 8, 0),
        ("2", "ReLU", (2, 4, 6, 6), 0, 0),
        ("3", "Sequential", (2, 10), None, 0),
        ("3.0", "Flatten", (2, 144), 0, 1),
        ("3.1", "Linear", (2, 10), 1450, 1),
    ]
    assert result.total_params == result.trainable_params == 1498
    printed = capsys.readouterr().out
    assert printed.strip() == str(result).strip()
    assert "  3.1 (Linear)" in printed and "1,450" in printed
    assert "Total params: 1,498" in printed and "Non-trainable params: 0" in printed


def test_summary_leaves_the_model_as_it_was():
    model = cnn()
    model[3].eval()
    before = model.state_dict()
    nn.summary(model, (4, 1, 6, 6), verbose=False)
    assert model.training and model[0].training and not model[3].training
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])  # running statistics untouched
    assert model[1].num_batches_tracked == 0 and model[0]._hooks.forward == {}


def test_summary_counts_frozen_and_shared_parameters_once_and_limits_depth():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.Tanh(), shared, nn.Sequential(nn.Linear(3, 2)))
    model[3].requires_grad_(False)
    result = nn.summary(model, (5, 3), verbose=False, depth=1)
    assert [r.name for r in result.rows] == ["0", "1", "3"]  # shared once, nesting hidden
    assert result.total_params == 12 + 8 and result.trainable_params == 12
    assert "Non-trainable params: 8" in str(result)


def test_summary_of_a_model_with_integer_inputs_and_tuple_outputs():
    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.rnn = nn.Embedding(10, 4), nn.LSTM(4, 5)

        def forward(self, ids):
            return self.rnn(self.embed(ids))

    result = nn.summary(Tagger(), (3, 7), dtype=np.int64, verbose=False)
    assert result.rows[1].output_shape == [(3, 7, 5), [(1, 3, 5), (1, 3, 5)]]
    assert "[[3, 7, 5], [[1, 3, 5], [1, 3, 5]]]" in str(result)
    ids = np.ones((1, 2), np.int64)
    assert nn.summary(Tagger(), input_data=ids, verbose=False).rows[0].output_shape == (1, 2, 4)


def test_summary_of_a_model_with_two_inputs_and_without_a_shape():
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(2, 3), nn.Linear(4, 3)

        def forward(self, x, y):
            return self.a(x) + self.b(y)

    assert nn.summary(Pair(), [(1, 2), (1, 4)], verbose=False).total_params == 24
    with pytest.raises(ValueError, match="summary: give input_shape"):
        nn.summary(Pair())


def test_summary_total_matches_torch():
    torch = pytest.importorskip("torch")
    twin = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4),
                               torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(144, 10))
    total = sum(p.numel() for p in twin.parameters())
    assert nn.summary(cnn(), (1, 1, 6, 6), verbose=False).total_params == total
