"""A model written as PyTorch users write it runs under chainrule with a renamed import,
and gives PyTorch's numbers: x.view(x.size(0), -1), x.mean(dim=..., keepdim=True),
(x > 0).float(), log_softmax(dim=1), argmax(dim=1) == t, Conv2d(..., padding=1)."""

import numpy as np

import chainrule as cr
from chainrule import nn, optim

from .twin import assert_close, assert_same_grads, load_into_torch, random_input, torch_or_skip


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4 * 3 * 3, 2)

    def forward(self, x):
        x = x - x.mean(dim=(2, 3), keepdim=True)
        x = self.pool(self.conv(x).relu())
        x = x.view(x.size(0), -1)
        x = x * (x > 0.05).float() + x.clamp(max=0.05) * 0.5
        return self.fc(x).log_softmax(dim=1)


def nll(log_p, t):
    return -log_p[np.arange(len(t)), t].mean()


def accuracy(log_p, t):
    return (log_p.argmax(dim=1) == t).float().mean().item()


def batch(seed=0, n=16):
    """Images whose label says whether the top half is brighter than the bottom half."""
    x = random_input((n, 1, 6, 6), seed)
    t = (x[:, 0, :3].sum(axis=(1, 2)) > x[:, 0, 3:].sum(axis=(1, 2))).astype(np.int64)
    return x, t


def test_the_same_model_in_torch_gives_the_same_loss_gradients_and_accuracy():
    torch = torch_or_skip()
    tnn = torch.nn

    class TorchNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv = tnn.Conv2d(1, 4, 3, padding=1)
            self.pool = tnn.MaxPool2d(2)
            self.fc = tnn.Linear(4 * 3 * 3, 2)

        forward = Net.forward  # the very same source runs on torch tensors

    model, twin = Net(), TorchNet()
    pairs = [(model.conv.W, twin.conv.weight, np.asarray),
             (model.conv.b, twin.conv.bias, np.asarray),
             (model.fc.W, twin.fc.weight, np.transpose), (model.fc.b, twin.fc.bias, np.asarray)]
    load_into_torch(pairs)
    x, t = batch()
    log_p, t_log_p = model(cr.Variable(x)), twin(torch.from_numpy(x))
    assert_close(log_p, t_log_p)
    loss, t_loss = nll(log_p, t), nll(t_log_p, torch.from_numpy(t))
    loss.backward()
    t_loss.backward()
    assert_close(loss, t_loss)
    assert_same_grads(pairs)
    assert accuracy(log_p, t) == accuracy(t_log_p, torch.from_numpy(t))


def test_the_pytorch_style_loop_trains():
    np.random.seed(0)
    model = Net()
    opt = optim.SGD(model.parameters(), lr=0.5)
    x, t = batch(1, 64)
    first = None
    for _ in range(60):
        loss = nll(model(cr.Variable(x)), t)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
    assert accuracy(model(cr.Variable(x)), t) >= 0.9
