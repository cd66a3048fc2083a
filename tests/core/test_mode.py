"""Anomaly mode: the first NaN or inf is caught where it is made, in forward and in backward."""

import threading

import numpy as np
import pytest

import chainrule as cr
import chainrule.functions as F


def test_anomaly_mode_is_off_by_default_and_switches_per_thread():
    assert not cr.is_anomaly_enabled()
    seen = []
    with cr.detect_anomaly():
        assert cr.is_anomaly_enabled()
        worker = threading.Thread(target=lambda: seen.append(cr.is_anomaly_enabled()))
        worker.start()
        worker.join()
    assert seen == [False] and not cr.is_anomaly_enabled()
    assert cr.set_detect_anomaly(True) is False
    try:
        assert cr.is_anomaly_enabled()
    finally:
        assert cr.set_detect_anomaly(False) is True


def test_forward_names_the_op_the_input_shapes_and_the_user_line():
    x = cr.Variable(np.array([1.0, 0.0, 2.0]))
    with cr.detect_anomaly(), np.errstate(divide="ignore"):
        with pytest.raises(FloatingPointError, match=r"log: produced inf from inputs of shape "
                           r"\(3,\).*test_mode.py:\d+"):
            F.log(x)


def test_without_anomaly_mode_nan_flows_silently():
    with np.errstate(invalid="ignore"):
        y = F.log(cr.Variable(np.array([-1.0])))
    assert np.isnan(y.data).all()


def test_backward_names_the_op_and_the_line_of_its_forward():
    x = cr.Variable(np.array([0.0, 4.0]))
    with cr.detect_anomaly():
        y = F.sqrt(x)  # finite forward; its slope at 0 is inf
        forward_line = _line_of("y = F.sqrt(x)")
        with np.errstate(divide="ignore"), pytest.raises(FloatingPointError) as info:
            y.sum().backward()
    message = str(info.value)
    assert message.startswith("sqrt backward: produced inf")
    assert f"test_mode.py:{forward_line}" in message


def test_detect_anomaly_works_as_a_decorator():
    @cr.detect_anomaly()
    def step():
        return F.exp(cr.Variable(np.array([1000.0])))

    with np.errstate(over="ignore"), pytest.raises(FloatingPointError, match="exp"):
        step()
    assert not cr.is_anomaly_enabled()


def test_anomaly_checks_integer_and_finite_results_without_complaint():
    with cr.detect_anomaly():
        x = cr.Variable(np.array([1.0, 2.0]))
        (x * 3).sum().backward()
        assert (cr.Variable(np.array([1, 2])) * 2).data.tolist() == [2, 4]
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0])


def _line_of(text):
    with open(__file__) as source:
        return next(i for i, line in enumerate(source, 1) if line.strip().startswith(text))
