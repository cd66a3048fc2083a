"""End to end: small models learn the bundled 8x8 digits with plain SGD written inline."""

import numpy as np

import chainrule as cr
import chainrule.functions as F
from chainrule import nn
from chainrule.data import DataLoader, Digits


def train_with_sgd(model, epochs, lr, seed):
    """Minibatch SGD, the step size falling linearly to 0: W <- W - lr_t dL/dW."""
    loader = DataLoader(Digits(), batch_size=32, shuffle=True, seed=seed)
    for epoch in range(epochs):
        rate = lr * (1 - epoch / epochs)
        for x, t in loader:
            loss = F.softmax_cross_entropy(model(x), t)
            model.zero_grad()
            loss.backward()
            with cr.no_grad():
                for param in model.parameters():
                    param.data -= rate * param.grad.data
    return loss


def accuracy_on_test_set(model):
    test = Digits(train=False)
    with cr.no_grad():
        scores = model.eval()(test.x)
    return np.mean(scores.data.argmax(axis=1) == test.t)


def test_mlp_learns_digits_to_97_percent():
    np.random.seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    loss = train_with_sgd(model, epochs=20, lr=0.2, seed=0)
    assert loss.dtype == np.float32
    assert accuracy_on_test_set(model) >= 0.97


def test_cnn_learns_digits_to_97_percent():
    np.random.seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, pad=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 10),
    )
    train_with_sgd(model, epochs=20, lr=0.3, seed=0)
    assert accuracy_on_test_set(model) >= 0.97


def test_mlp_learns_the_three_arm_spiral_to_95_percent():
    from chainrule import optim
    from chainrule.data import Spiral

    np.random.seed(0)
    model = nn.Sequential(nn.Linear(2, 30), nn.Sigmoid(), nn.Linear(30, 3))
    opt = optim.SGD(model.parameters(), lr=1.0)
    loader = DataLoader(Spiral(), batch_size=30, shuffle=True, seed=0)
    for _ in range(300):  # epochs, each in a fresh order
        for x, t in loader:
            loss = F.softmax_cross_entropy(model(x), t)
            opt.zero_grad()
            loss.backward()
            opt.step()
    test = Spiral(train=False)
    with cr.no_grad():
        predicted = model(test.x).data.argmax(axis=1)
    assert np.mean(predicted == test.t) >= 0.95, np.mean(predicted == test.t)
