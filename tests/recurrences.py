"""NumPy references for the recurrences, written from the formulas step by step (no torch).

Time-major: xw (T, N, G·H) holds each step's x W_x + b_x; W_h (H, G·H); b_h (G·H,);
h, c (N, H). Each returns (hs (T, N, H), final carry) and runs backwards when ``reverse``.
"""

import numpy as np


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def rnn_step(xw, W_h, b_h, carry, nonlinearity="tanh"):
    a = xw + carry[0] @ W_h + b_h
    return (np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0),)


def lstm_step(xw, W_h, b_h, carry):
    h, c = carry
    i, f, g, o = np.split(xw + h @ W_h + b_h, 4, axis=-1)
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def gru_step(xw, W_h, b_h, carry):
    (h,) = carry
    x_r, x_z, x_n = np.split(xw, 3, axis=-1)
    u_r, u_z, u_n = np.split(h @ W_h + b_h, 3, axis=-1)
    r, z = sigmoid(x_r + u_r), sigmoid(x_z + u_z)
    n = np.tanh(x_n + r * u_n)
    return ((1 - z) * n + z * h,)


STEPS = {"rnn": rnn_step, "lstm": lstm_step, "gru": gru_step}
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def run(kind, xw, W_h, b_h, carry, reverse=False, **options):
    """Every h_t (T, N, H) and the final carry of ``kind`` over time-major ``xw``."""
    hs = [None] * len(xw)
    for t in (reversed if reverse else iter)(range(len(xw))):
        carry = STEPS[kind](xw[t], W_h, b_h, carry, **options)
        hs[t] = carry[0]
    return np.stack(hs), carry


def layers(kind, x, weights, num_layers, directions, carries, **options):
    """A stacked (and bidirectional) layer over time-major x (T, N, C).

    ``weights[k][d]`` is (W_x, W_h, b_x, b_h) of layer k, direction d; ``carries`` one
    initial carry per layer and direction, in that order. Returns (output, final carries).
    """
    finals = []
    for k in range(num_layers):
        outs = []
        for d in range(directions):
            W_x, W_h, b_x, b_h = weights[k][d]
            hs, final = run(kind, x @ W_x + b_x, W_h, b_h, carries[len(finals)],
                            reverse=d == 1, **options)
            outs.append(hs)
            finals.append(final)
        x = np.concatenate(outs, axis=-1)
    return x, finals
