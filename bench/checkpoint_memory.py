"""Peak memory of one forward and backward through a deep MLP, with and without checkpointing.

L layers of Linear(512, 512) + tanh + dropout(0.1), batch 256, float32, loss Σ y². Plain:
every layer's activations live until backward reaches it, so the peak grows with L.
Checkpointed: the L layers run as segments of k = round(√L) layers, each through
``chainrule.checkpoint``; only the segment boundaries are kept and one segment's
activations are recomputed at a time, so the activations' peak grows with L/k + k ≈ 2√L,
for one extra forward pass. The figure is NumPy's allocations at their peak (tracemalloc)
above the weights and the gradients, which both runs hold alike. The gradients of both runs
must be bit-identical (dropout draws the same mask when a segment is recomputed).

    python bench/checkpoint_memory.py            # depths 10 to 50: a Markdown table
"""

import math
import time
import tracemalloc

import numpy as np

WIDTH, BATCH, P = 512, 256, 0.1


def model(depth):
    import chainrule as cr

    rng = np.random.default_rng(0)
    weights = [cr.Variable((rng.standard_normal((WIDTH, WIDTH)) / math.sqrt(WIDTH))
                           .astype(np.float32)) for _ in range(depth)]
    x = cr.Variable(rng.standard_normal((BATCH, WIDTH)).astype(np.float32),
                    requires_grad=False)
    return weights, x


def run(weights, x, segment):
    """Forward and backward; the gradients, the peak MiB above weights and grads (over
    both passes, then over forward alone), seconds."""
    import chainrule as cr
    import chainrule.functions as F

    def layers(h, start, stop):
        for W in weights[start:stop]:
            h = F.dropout(F.tanh(F.linear(h, W)), P)
        return h

    for W in weights:
        W.cleargrad()
    np.random.seed(1)
    held = sum(W.data.nbytes for W in weights) * 2  # the weights, and their grads at the end
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    h, depth = x, len(weights)
    for first in range(0, depth, segment or depth):
        stop = min(first + (segment or depth), depth)
        h = cr.checkpoint(layers, h, first, stop) if segment else layers(h, first, stop)
    forward_peak = tracemalloc.get_traced_memory()[1] - base
    (h * h).sum().backward()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    grads = [W.grad.data.copy() for W in weights]
    # held / 2: the grads are new here (and not yet made during forward)
    return grads, (peak - held / 2) / 2 ** 20, forward_peak / 2 ** 20, seconds


def main():
    print("| layers | plain peak (MiB) | checkpointed, k = √L (MiB) | k | checkpointed forward "
          "alone (MiB) | time plain / checkpointed (s) | gradients |")
    print("|---|---|---|---|---|---|---|")
    for depth in (10, 20, 30, 40, 50):
        weights, x = model(depth)
        plain, plain_mib, _, plain_s = run(weights, x, None)
        k = round(math.sqrt(depth))
        ckpt, ckpt_mib, forward_mib, ckpt_s = run(weights, x, k)
        same = all(np.array_equal(a, b) for a, b in zip(plain, ckpt))
        print(f"| {depth} | {plain_mib:.0f} | {ckpt_mib:.0f} | {k} | {forward_mib:.1f} | "
              f"{plain_s:.2f} / {ckpt_s:.2f} | {'identical' if same else 'DIFFER'} |")


if __name__ == "__main__":
    main()
