"""Every script in examples/ runs in its own process and prints the numbers it promises.

Each example has an entry in EXPECTED; a new example without one fails
``test_every_example_has_a_check``.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# The printed "name: value" lines, compared as exact strings: the seeds' floats to the last digit.
APPLE = {
    "price": "220.00000000000003",
    "dapple_price": "1.1",
    "dapple": "2.2",
    "dapple_num": "110.00000000000001",
    "dtax": "200",
}
APPLE_ORANGE_GRADS = {
    "price": "715.0000000000001",
    "dall_price": "1.1",
    "dapple": "2.2",
    "dapple_num": "110.00000000000001",
    "dorange": "3.3000000000000003",
    "dorange_num": "165.0",
}
APPLE_ORANGE = {
    **APPLE_ORANGE_GRADS,
    "dtax": "650",  # all_price is the int 650 when the layers run on Python ints
    "dapple_price": "1.1",
    "dorange_price": "1.1",
}
APPLE_AUTOGRAD = {**APPLE_ORANGE_GRADS, "dtax": "650.0"}  # the same value, as a float64
SQUARE_EXP_SQUARE = {
    "by hand": "3.297442541400256",
    "y.backward()": "3.297442541400256",
    "F.square(F.exp(F.square(x)))": "3.297442541400256",
}


def printed(stdout):
    """``{name: value}`` from the "name: value" lines of a script's output."""
    return dict(line.rsplit(": ", 1) for line in stdout.splitlines() if ": " in line)


def check_test_accuracy(stdout):
    accuracy = float(re.search(r"^test accuracy: ([0-9.]+)$", stdout, re.MULTILINE).group(1))
    assert accuracy >= 0.9, stdout


EXPECTED = {
    "apple_shopping.py": APPLE,
    "apple_orange.py": APPLE_ORANGE,
    "apple_autograd.py": APPLE_AUTOGRAD,
    "square_exp_square.py": SQUARE_EXP_SQUARE,
    "two_layer_net.py": check_test_accuracy,
}


def test_every_example_has_a_check():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_and_prints_its_numbers(name):
    command = [sys.executable, str(EXAMPLES / name)]
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    expected = EXPECTED[name]
    if callable(expected):
        expected(result.stdout)
    else:
        assert printed(result.stdout) == expected, result.stdout
