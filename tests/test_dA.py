"""dA: the tied-weight autoencoder's first draw, its cost and gradient against NumPy with the
corruption mask of the NumPy MRG reference, and small test_dA runs in every mode (fused and not)."""

import logging

import numpy
import pytest

import dltut
from conftest import available_modes, in_every_mode, in_mode, read_grey_png
from dltut import engine, plots
from dltut.engine import T
from dltut.random import NumpyStreams, RandomStreams, seed_state
from dltut.tutorials.dA import dA


def test_initial_weights_are_the_tutorial_draw(floatX64):
    # dA.py with theano_rng=None: the streams' seed rng.randint(2 ** 30), then W, from one rng
    da = dA(numpy.random.RandomState(123), input=T.matrix("x"), n_visible=784, n_hidden=500)
    rng = numpy.random.RandomState(123)
    seed = rng.randint(2 ** 30)
    bound = 4 * numpy.sqrt(6.0 / (500 + 784))
    expected = rng.uniform(low=-bound, high=bound, size=(784, 500))
    numpy.testing.assert_array_equal(da.W.get_value(), expected)
    numpy.testing.assert_array_equal(da.theano_rng.rstate, seed_state(seed))
    assert [p.name for p in da.params] == ["W_dA", "b_dA", "b_prime_dA"]
    assert not da.b.get_value().any() and not da.b_prime.get_value().any()
    assert da.b.get_value().shape == (500,) and da.b_prime.get_value().shape == (784,)


def test_given_streams_draw_nothing_from_the_rng_but_W(floatX64):
    # test_dA seeds the streams itself, then the dA draws only W
    da = dA(numpy.random.RandomState(5), theano_rng=RandomStreams(9), n_visible=6, n_hidden=4)
    bound = 4 * numpy.sqrt(6.0 / 10)
    numpy.testing.assert_array_equal(da.W.get_value(),
                                     numpy.random.RandomState(5).uniform(-bound, bound, (6, 4)))
    shared_W = engine.shared(numpy.ones((6, 4)), "W_shared")
    assert dA(numpy.random.RandomState(5), RandomStreams(9), W=shared_W, n_visible=6,
              n_hidden=4).W is shared_W


def _sigmoid(a):
    return 1.0 / (1.0 + numpy.exp(-a))


def _numpy_cost_and_grads(x, mask, W, b, b_prime):
    """The cross-entropy cost of dA.py and its gradients, by hand (tied weights: W's gradient is
    the encoder's plus the decoder's)."""
    tilde_x = mask * x
    y = _sigmoid(tilde_x @ W + b)
    z = _sigmoid(y @ W.T + b_prime)
    cost = numpy.mean(-numpy.sum(x * numpy.log(z) + (1 - x) * numpy.log(1 - z), axis=1))
    delta_z = (z - x) / len(x)  # d cost / d (y W^T + b'): sigmoid and cross-entropy together
    delta_y = (delta_z @ W) * y * (1 - y)  # d cost / d (tilde_x W + b)
    gW = tilde_x.T @ delta_y + delta_z.T @ y
    return cost, [gW, delta_y.sum(axis=0), delta_z.sum(axis=0)]


@pytest.mark.parametrize("corruption_level", [0.0, 0.3])
def test_cost_and_update_against_numpy(floatX64, mode, corruption_level):
    n, n_visible, n_hidden, lr = 3, 6, 4, 0.1
    # JAX compiles a draw of size x.shape only when the shape is known (CompiledCost gives it)
    x = T.matrix("x", shape=(n, n_visible)) if mode == "jax" else T.matrix("x")
    da = dA(numpy.random.RandomState(1), RandomStreams(42), input=x, n_visible=n_visible,
            n_hidden=n_hidden)
    da.b.set_value(numpy.random.RandomState(2).uniform(-0.5, 0.5, n_hidden))
    da.b_prime.set_value(numpy.random.RandomState(3).uniform(-0.5, 0.5, n_visible))
    before = [p.get_value() for p in da.params]
    cost, updates = da.get_cost_updates(corruption_level=corruption_level, learning_rate=lr)
    xs = numpy.random.RandomState(4).uniform(0.05, 0.95, (n, n_visible))
    got = engine.function([x], cost, updates=updates)(xs)

    # a symbolic size: 15360 streams, as Theano gives x.shape
    mask = NumpyStreams(42).binomial((n, n_visible), p=1 - corruption_level, dtype="float64",
                                     floatX="float64", nstreams=15360)
    assert (mask == 0).any() == (corruption_level > 0)
    expected, grads = _numpy_cost_and_grads(xs, mask, *before)
    assert got == pytest.approx(expected, rel=1e-12)
    for param, value, grad in zip(da.params, before, grads):
        numpy.testing.assert_allclose(param.get_value(), value - lr * grad, rtol=1e-12,
                                      atol=1e-15, err_msg=param.name)


def _tiny_test_dA(tiny_mnist, folder, **options):
    return dltut.test_dA(training_epochs=1, dataset=tiny_mnist, batch_size=20,
                         output_folder=folder, **options)


def test_tiny_run_logs_both_runs_and_writes_both_pictures(tiny_mnist, tmp_path, floatX64, caplog,
                                                         modes):
    caplog.set_level(logging.INFO, logger="dltut")
    folder = tmp_path / "new" / "dA_plots"  # made if missing, parents too
    runs = in_every_mode(lambda mode: _tiny_test_dA(tiny_mnist, folder / mode), modes)
    reference = runs["c"]
    for mode, (clean, noisy) in runs.items():
        assert (clean.corruption_level, noisy.corruption_level) == (0.0, 0.3)
        assert len(clean.costs) == len(noisy.costs) == 1
        assert clean.costs != noisy.costs
        for run, expected in zip((clean, noisy), reference):
            numpy.testing.assert_allclose(run.costs, expected.costs, rtol=1e-9, err_msg=mode)
            numpy.testing.assert_allclose(run.da.W.get_value(), expected.da.W.get_value(),
                                          rtol=1e-9, atol=1e-12, err_msg=mode)
            pixels, _ = read_grey_png(run.filters)
            numpy.testing.assert_array_equal(pixels, plots.tile_raster_images(
                numpy.asarray(run.da.W.get_value()).T[:100], (28, 28), (10, 10), (1, 1)))
        assert sorted(p.name for p in (folder / mode).iterdir()) == \
            ["filters_corruption_0.png", "filters_corruption_30.png"]
    messages = [record.getMessage() for record in caplog.records]
    for mode, (clean, noisy) in runs.items():
        for run in (clean, noisy):
            assert f"Training epoch 0, cost  {run.costs[0]!r}" in messages
    assert sum(m.startswith("The no corruption code for file dA.py ran for ") and m.endswith("m")
               for m in messages) == len(runs)
    assert sum(m.startswith("The 30% corruption code for file dA.py ran for ")
               for m in messages) == len(runs)


def test_fused_epochs_equal_one_call_per_minibatch(tiny_mnist, tmp_path, floatX64):
    # JAX mode, where fusing is the default (fused draws in the C mode: test_compiled.py); the
    # C mode on Theano, which has no other
    for mode in ["jax" if "jax" in available_modes() else "c"]:
        with in_mode(mode):
            unfused = _tiny_test_dA(tiny_mnist, tmp_path / mode, fused=False)
            fused = _tiny_test_dA(tiny_mnist, tmp_path / f"{mode}_fused", fused=True)
        for got, expected in zip(fused, unfused):
            if engine.name() == "theano":  # Theano's scan rewrites its inner graph its own way
                numpy.testing.assert_allclose(got.costs, expected.costs, rtol=1e-12)
                numpy.testing.assert_allclose(got.da.W.get_value(), expected.da.W.get_value(),
                                              rtol=1e-12)
                continue
            assert got.costs == expected.costs, mode
            for param, expected_param in zip(got.da.params, expected.da.params):
                numpy.testing.assert_array_equal(param.get_value(), expected_param.get_value())


def test_bad_settings_fail_before_training(tiny_mnist, tmp_path):
    with pytest.raises(ValueError, match="training_epochs must be a positive integer, got 0"):
        dltut.test_dA(training_epochs=0, dataset=tiny_mnist, output_folder=tmp_path / "a")
    with pytest.raises(ValueError, match="batch_size 700 is larger than the training set"):
        dltut.test_dA(training_epochs=1, dataset=tiny_mnist, batch_size=700,
                      output_folder=tmp_path / "b")
    with pytest.raises(TypeError, match=r"unexpected options \['out'\]"):
        dltut.test_dA(training_epochs=1, dataset=tiny_mnist, out=tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())
