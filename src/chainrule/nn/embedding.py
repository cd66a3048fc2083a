"""Embedding: a table of learned vectors looked up by integer id."""

import numpy as np

import chainrule.functions as F
from chainrule.backend import get_array_module
from chainrule.core import Variable
from chainrule.nn import init
from chainrule.nn.module import Module, positive_int
from chainrule.nn.parameter import Parameter


class Embedding(Module):
    """y = W[ids]: row ``i`` of W is the vector of id ``i``.

    ids (...) integers in [0, num_embeddings) -> y (..., embedding_dim);
    W (num_embeddings, embedding_dim) starts N(0, 1) as in PyTorch. With ``padding_idx``
    that row starts at zero and gets no gradient, so padding stays what it is.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, dtype=np.float32):
        super().__init__()
        self.num_embeddings = positive_int("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = positive_int("Embedding", "embedding_dim", embedding_dim)
        shape = (self.num_embeddings, self.embedding_dim)
        self.W = init.normal_(Parameter(np.empty(shape, dtype), dtype=dtype))
        self.padding_idx = None
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is outside "
                                 f"[-{num_embeddings}, {num_embeddings})")
            self.padding_idx = padding_idx % num_embeddings
            self.W.data[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None):
        """An Embedding holding a copy of ``embeddings`` (num, dim); frozen unless told."""
        table = np.asarray(getattr(embeddings, "data", embeddings))
        layer = cls(*table.shape, padding_idx=padding_idx, dtype=table.dtype)
        layer.W.data[...] = table
        return layer.requires_grad_(not freeze)

    def forward(self, ids):
        y = F.embedding(ids, self.W)
        if self.padding_idx is None:
            return y
        ids = ids.data if isinstance(ids, Variable) else ids
        padding = get_array_module(y.data).asarray(ids == self.padding_idx)[..., None]
        # the padding row, read as a constant there: its gradient stays zero
        return F.where(padding, self.W.data[self.padding_idx], y) if padding.any() else y

    def extra_repr(self):
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"
