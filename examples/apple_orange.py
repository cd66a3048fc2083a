"""Buying apples and oranges, by hand: MulLayers and an AddLayer, backward in reverse order.

    price = (apple * apple_num + orange * orange_num) * tax

An add node passes its gradient through unchanged; a mul node swaps its inputs.
Expected output (the seeds' numbers): price 715.0000000000001, dall_price 1.1,
dtax 650, dapple 2.2, dapple_num 110.00000000000001, dorange 3.3000000000000003,
dorange_num 165.0.
"""

from chainrule.manual import AddLayer, MulLayer


def main():
    apple, apple_num = 100, 2
    orange, orange_num = 150, 3
    tax = 1.1

    mul_apple_layer = MulLayer()
    mul_orange_layer = MulLayer()
    add_apple_orange_layer = AddLayer()
    mul_tax_layer = MulLayer()

    # forward
    apple_price = mul_apple_layer.forward(apple, apple_num)  # (1)
    orange_price = mul_orange_layer.forward(orange, orange_num)  # (2)
    all_price = add_apple_orange_layer.forward(apple_price, orange_price)  # (3)
    price = mul_tax_layer.forward(all_price, tax)  # (4)

    # backward: (4), (3), (2), (1), each layer fed the gradient of its own output
    dprice = 1
    dall_price, dtax = mul_tax_layer.backward(dprice)  # (4)
    dapple_price, dorange_price = add_apple_orange_layer.backward(dall_price)  # (3)
    dorange, dorange_num = mul_orange_layer.backward(dorange_price)  # (2)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)  # (1)

    print("price:", price)
    print("dall_price:", dall_price)
    print("dtax:", dtax)
    print("dapple_price:", dapple_price)
    print("dorange_price:", dorange_price)
    print("dapple:", dapple)
    print("dapple_num:", dapple_num)
    print("dorange:", dorange)
    print("dorange_num:", dorange_num)


if __name__ == "__main__":
    main()
