"""make_target / TARGET_KINDS: the study layer's entry point to the targets."""

import numpy as np
import pytest

from minimax.targets import TARGET_KINDS, BesovDensity, GaussianMixture, make_target


def test_kinds_are_listed_with_descriptions():
    assert set(TARGET_KINDS) == {"besov", "sparse-multiscale", "gmm"}
    assert all(isinstance(v, str) and v for v in TARGET_KINDS.values())


def test_besov_kind_passes_parameters_on():
    q = make_target("besov", D=2, s=1.5, boundary="smooth", seed=3, n_max=1000, tilt=0.0)
    assert isinstance(q, BesovDensity)
    d = q.describe()
    assert (d["D"], d["s"], d["boundary"], d["seed"], d["n_max"], d["tilt"]) == (
        2,
        1.5,
        "smooth",
        3,
        1000,
        0.0,
    )


def test_gmm_kind_default_and_custom():
    q = make_target("gmm", D=3)
    assert isinstance(q, GaussianMixture) and q.dim == 3
    # the default mixture puts most of its mass inside the box [-1, 1]^3
    inside = q.cell_masses([np.array([-1.0, 1.0])] * 3).sum()
    assert inside > 0.9
    c = make_target("gmm", D=1, weights=[1.0], means=[[0.0]], stds=[1.0])
    assert c.n_components == 1


@pytest.mark.parametrize(
    "args, kw, match",
    [
        (
            ("wavelet",),
            dict(D=1),
            "kind='wavelet' is not allowed: expected one of 'besov', 'sparse-multiscale', 'gmm'",
        ),
        (("besov",), dict(D=1), "s=None"),
        (("besov",), dict(D=0, s=1.0), "D=0"),
        (("sparse-multiscale",), dict(D=1, p=0.45), "s=None"),
        (("gmm",), dict(D=1, bandwidth=1.0), "bandwidth="),
    ],
)
def test_bad_input(args, kw, match):
    with pytest.raises(ValueError, match=match):
        make_target(*args, **kw)


def test_targets_are_frozen_and_picklable():
    import pickle

    for q in (
        make_target("besov", D=2, s=1.0, J=5),
        make_target("sparse-multiscale", D=2, s=2.0, p=0.8),
        make_target("gmm", D=2),
    ):
        with pytest.raises(AttributeError, match="frozen"):
            q.dim = 3
        q2 = pickle.loads(pickle.dumps(q))  # joblib/dask workers receive targets this way
        x = np.random.default_rng(0).uniform(-1, 1, (20, 2))
        np.testing.assert_array_equal(q.pdf(x), q2.pdf(x))
