"""Buying two apples, by hand: two MulLayers forward, then backward in reverse order.

    price = (apple * apple_num) * tax

The backward pass answers "how much does the price move per unit of each input?"
Expected output (the seeds' numbers): price 220.00000000000003, dapple 2.2,
dapple_num 110.00000000000001, dtax 200.
"""

from chainrule.manual import MulLayer


def main():
    apple = 100  # price of one apple
    apple_num = 2  # how many apples
    tax = 1.1  # consumption tax

    mul_apple_layer = MulLayer()
    mul_tax_layer = MulLayer()

    # forward: each layer keeps its inputs, because its backward needs them
    apple_price = mul_apple_layer.forward(apple, apple_num)
    price = mul_tax_layer.forward(apple_price, tax)

    # backward: reverse order; the first gradient is d price / d price = 1
    dprice = 1
    dapple_price, dtax = mul_tax_layer.backward(dprice)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)

    print("price:", price)
    print("dapple_price:", dapple_price)
    print("dapple:", dapple)
    print("dapple_num:", dapple_num)
    print("dtax:", dtax)


if __name__ == "__main__":
    main()
