"""y = square(exp(square(x))) at x = 0.5: backward by hand, then automatically.

The seeds' Variable/Function chapter, with chainrule's own Variable and Function:

1. by hand: call C.backward, B.backward, A.backward in reverse order;
2. automatically: ``y.backward()`` walks the creators back to x;
3. with the library's operations ``F.square`` and ``F.exp``.

All three print dy/dx = 3.297442541400256: by the chain rule
dy/dx = 2b · e^a · 2x with a = x², b = e^a, which is 4x e^(2x²) = 2√e at x = 0.5.
"""

import numpy as np

import chainrule as cr
import chainrule.functions as F


class Square(cr.Function):
    """y = x²;  dy/dx = 2x"""

    def forward(self, x):
        return x**2

    def backward(self, gy):
        (x,) = self.inputs
        return 2 * x * gy


class Exp(cr.Function):
    """y = eˣ;  dy/dx = eˣ = y"""

    def forward(self, x):
        return np.exp(x)

    def backward(self, gy):
        y = self.outputs[0]()  # the output, held weakly by its creator
        return gy * y


def by_hand():
    A, B, C = Square(), Exp(), Square()
    x = cr.Variable(np.array(0.5))
    a = A(x)
    b = B(a)
    y = C(b)
    # each backward gets the gradient of its own output: C first, A last
    y.grad = cr.Variable(np.array(1.0))
    b.grad = C.backward(y.grad)
    a.grad = B.backward(b.grad)
    x.grad = A.backward(a.grad)
    return x.grad.item()


def automatic():
    x = cr.Variable(np.array(0.5))
    y = Square()(Exp()(Square()(x)))
    y.backward()  # dy/dy = 1 is the default starting gradient
    return x.grad.item()


def with_functions():
    x = cr.Variable(np.array(0.5))
    y = F.square(F.exp(F.square(x)))
    y.backward()
    return x.grad.item()


def main():
    print("by hand:", by_hand())
    print("y.backward():", automatic())
    print("F.square(F.exp(F.square(x))):", with_functions())


if __name__ == "__main__":
    main()
