import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cliport_perception.workspace import Workspace

WS = Workspace()


def test_reference_grid_shape():
    assert WS.shape == (320, 160)  # rows along y, columns along x
    assert WS.bounds.tolist() == [[0.25, 0.75], [-0.5, 0.5], [0.0, 0.28]]


def test_cell_centres():
    assert WS.pixel_to_xy(0, 0) == pytest.approx((0.25 + 0.0015625, -0.5 + 0.0015625))
    assert WS.pixel_to_xy(319, 159) == pytest.approx((0.75 - 0.0015625, 0.5 - 0.0015625))
    assert WS.xy_to_pixel(0.25, -0.5) == (0, 0)
    assert WS.xy_to_pixel(0.7499, 0.4999) == (319, 159)
    assert not WS.in_grid(*WS.xy_to_pixel(0.76, 0.0))


@given(st.integers(0, 319), st.integers(0, 159))
def test_pixel_world_round_trip(u, v):
    assert WS.xy_to_pixel(*WS.pixel_to_xy(u, v)) == (u, v)


@pytest.mark.parametrize("kwargs", [
    {"x_min": 1.0}, {"pixel_size": 0.0}, {"z_max": math.nan}, {"y_max": math.inf},
])
def test_invalid_workspace(kwargs):
    with pytest.raises(ValueError):
        Workspace(**kwargs)


def test_contains():
    assert WS.contains(0.5, 0.0, 0.1)
    assert not WS.contains(0.5, 0.0, 0.3)
    assert not WS.contains(0.2, 0.0)
