"""Embedding: a table of learned vectors looked up by integer id."""

import numpy as np

import chainrule.functions as F
from chainrule.nn import init
from chainrule.nn.module import Module, positive_int
from chainrule.nn.parameter import Parameter


class Embedding(Module):
    """y = W[ids]: row ``i`` of W is the vector of id ``i``.

    ids (...) integers in [0, num_embeddings) -> y (..., embedding_dim);
    W (num_embeddings, embedding_dim) starts N(0, 1) as in PyTorch.
    """

    def __init__(self, num_embeddings, embedding_dim, dtype=np.float32):
        super().__init__()
        self.num_embeddings = positive_int("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = positive_int("Embedding", "embedding_dim", embedding_dim)
        shape = (self.num_embeddings, self.embedding_dim)
        self.W = init.normal_(Parameter(np.empty(shape, dtype), dtype=dtype))

    def forward(self, ids):
        return F.embedding(ids, self.W)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"
