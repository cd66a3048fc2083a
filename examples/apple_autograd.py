"""The apple-and-orange bill with chainrule.Variable: one y.backward() instead of layers.

    price = (apple * apple_num + orange * orange_num) * tax

Every operation records itself as the creator of its result, so ``backward``
can walk the graph back and fill each input's ``.grad``. The numbers are the
ones the hand-written MulLayer/AddLayer give (examples/apple_orange.py).
"""

import numpy as np

import chainrule as cr


def main():
    apple, apple_num = cr.Variable(np.array(100.0)), cr.Variable(np.array(2.0))
    orange, orange_num = cr.Variable(np.array(150.0)), cr.Variable(np.array(3.0))
    tax = cr.Variable(np.array(1.1))

    all_price = apple * apple_num + orange * orange_num
    price = all_price * tax

    # retain_grad keeps the gradient of the intermediate all_price too
    price.backward(retain_grad=True)

    print("price:", price.item())
    print("dall_price:", all_price.grad.item())
    print("dtax:", tax.grad.item())
    print("dapple:", apple.grad.item())
    print("dapple_num:", apple_num.grad.item())
    print("dorange:", orange.grad.item())
    print("dorange_num:", orange_num.grad.item())


if __name__ == "__main__":
    main()
