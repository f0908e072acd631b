import math

import numpy as np
import pytest

from minimax.validation import check_choice, check_int, check_points, check_real, check_rng


def test_check_real_bounds_and_message():
    assert check_real("s", 1.5, low=0, low_open=True) == 1.5
    with pytest.raises(ValueError, match=r"s=-1.*> 0"):
        check_real("s", -1, low=0, low_open=True)
    with pytest.raises(ValueError, match="finite"):
        check_real("s", math.nan)
    with pytest.raises(ValueError, match="real number"):
        check_real("s", "1")


def test_check_int_refuses_floats_and_bools():
    assert check_int("D", 2, low=1) == 2
    for bad in (1.5, True, 0):
        with pytest.raises(ValueError, match="D="):
            check_int("D", bad, low=1)


def test_check_choice_lists_options():
    with pytest.raises(ValueError, match="'a', 'b'"):
        check_choice("name", "c", ("a", "b"))


def test_check_points_shape_dim_nan():
    assert check_points("x", np.zeros(3), 1).shape == (3, 1)
    with pytest.raises(ValueError, match="dimension 2: expected D=3"):
        check_points("x", np.zeros((4, 2)), 3)
    with pytest.raises(ValueError, match="NaN"):
        check_points("x", np.array([[0.0], [np.nan]]), 1)


def test_check_rng_accepts_seed():
    assert isinstance(check_rng("rng", 3), np.random.Generator)
    with pytest.raises(ValueError, match="rng="):
        check_rng("rng", "x")
