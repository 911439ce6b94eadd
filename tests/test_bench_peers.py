"""benchmarks/bench_peers.py's peers compute what dltut's tutorials compute.

The benchmark times PyTorch and a pure-JAX scan against the tutorials' entry points; the
comparison is fair only if they train the same model from the same weights. Here, on a few
minibatches of MNIST, each peer's training costs must equal those the tutorial logs, update by
update: the logistic regression (zero weights, so no draw to match), the MLP and LeNet (the
tutorials' draws; LeNet's second cost is the first that its weights decide). Float32
throughout, so equal to float32 rounding.
"""

import os
import sys

import numpy
import pytest

from dltut import data, engine
from dltut.tutorials import convolutional_mlp, logistic_sgd, mlp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "benchmarks"))
import bench_peers  # noqa: E402

N_UPDATES = {"LR": 3, "MLP": 5, "LeNet": 2}  # minibatches of the training slice
ENTRY_POINTS = {"LR": logistic_sgd.sgd_optimization_mnist, "MLP": mlp.test_mlp,
                "LeNet": convolutional_mlp.evaluate_lenet5}


@pytest.fixture(scope="module")
def mnist():
    return data.load_data()


@pytest.fixture(scope="module")
def dltut_costs(mnist, tmp_path_factory):
    """name -> (training slice, the costs of the tutorial's first epoch on it)."""
    costs = {}
    for name, entry_point in ENTRY_POINTS.items():
        batch_size = bench_peers.MODELS[name][2]
        n = N_UPDATES[name] * batch_size
        (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = mnist
        splits = ((train_x[:n], train_y[:n]), (valid_x[:batch_size], valid_y[:batch_size]),
                  (test_x[:batch_size], test_y[:batch_size]))
        path = tmp_path_factory.mktemp(name) / "slice.npz"
        data.save_npz(path, splits)
        result = entry_point(dataset=str(path), n_epochs=1)
        costs[name] = splits[0], numpy.asarray(result.costs)
    return costs


@pytest.mark.parametrize("name", list(N_UPDATES))
@pytest.mark.parametrize("peer", ["jax", "torch"])
def test_peer_costs_equal_the_tutorials(peer, name, request):
    pytest.importorskip(peer)  # before the tutorial runs: the theano engine's suite has neither
    (train_x, train_y), expected = request.getfixturevalue("dltut_costs")[name]
    make = bench_peers.jax_epoch if peer == "jax" else bench_peers.torch_epoch
    costs = make(name, train_x, train_y)()
    assert len(expected) == len(costs) == N_UPDATES[name]
    if name == "LR":
        assert expected[0] == pytest.approx(numpy.log(10), rel=1e-6)  # zero weights
    # after the first update the costs depend on every weight the peer computed
    numpy.testing.assert_allclose(costs, expected, rtol=2e-6, atol=0)


@pytest.mark.parametrize("name", ["MLP", "LeNet"])
def test_initial_weights_are_the_tutorials(name):
    # the tutorial's classes, built with its seed, hold the weights the peers start from
    seed = bench_peers.MODELS[name][5]
    rng, x = numpy.random.RandomState(seed), engine.T.matrix("x")
    if name == "MLP":
        model = mlp.MLP(rng, input=x, n_in=784, n_hidden=500, n_out=10)
    else:
        model = convolutional_mlp.LeNet5(rng, input=x, batch_size=500, nkerns=bench_peers.NKERNS)
    expected = {param.name: param.get_value() for param in model.params}
    params = bench_peers.init_params(name)
    assert sorted(params) == sorted(expected)
    for key, value in params.items():
        assert value.dtype == numpy.float32
        numpy.testing.assert_array_equal(value, expected[key], err_msg=key)


def test_floor_settings_are_dltuts():
    from dltut.backend import tuning

    assert set(bench_peers.SETTINGS) == set(tuning.CANDIDATES)
