"""cA: the contractive autoencoder's draw, its cost, Jacobian penalty and gradient against NumPy
(the tutorial's floored penalty and the fixed one, every mode), the fixed penalty training the
contraction, and a tiny test_cA run whose epoch line is the original's."""

import logging

import numpy
import pytest

import dltut
from conftest import available_modes, in_mode, read_grey_png
from dltut import data, engine, plots
from dltut.engine import T
from dltut.tutorials.cA import cA


def test_initial_weights_are_the_tutorial_draw(floatX64):
    ca = cA(numpy.random.RandomState(123), input=T.matrix("x"), n_visible=784, n_hidden=500,
            n_batchsize=10)
    bound = 4 * numpy.sqrt(6.0 / (500 + 784))
    expected = numpy.random.RandomState(123).uniform(low=-bound, high=bound, size=(784, 500))
    numpy.testing.assert_array_equal(ca.W.get_value(), expected)
    assert [p.name for p in ca.params] == ["W_cA", "b_cA", "b_prime_cA"]
    assert not ca.b.get_value().any() and not ca.b_prime.get_value().any()


def _sigmoid(a):
    return 1.0 / (1.0 + numpy.exp(-a))


def _numpy_costs_and_grads(x, W, b, b_prime, contraction_level, fixed_penalty):
    """cA.py's two costs and the gradients of its cost, by hand. The penalty is
    sum_n sum_ij (h_nj (1 - h_nj) W_ij)^2 / N (floored by the tutorial's //, whose gradient is 0)."""
    n = len(x)
    h = _sigmoid(x @ W + b)
    z = _sigmoid(h @ W.T + b_prime)
    L_rec = -numpy.sum(x * numpy.log(z) + (1 - x) * numpy.log(1 - z), axis=1)
    slope = h * (1 - h)  # dh/da
    J = slope[:, None, :] * W[None, :, :]  # (n, n_visible, n_hidden)
    penalty = numpy.sum(J ** 2) / n
    L_jacob = penalty if fixed_penalty else numpy.floor(penalty)
    # the reconstruction: as the dA's (tied weights: encoder's and decoder's gradient)
    delta_z = (z - x) / n
    delta_h = (delta_z @ W) * slope
    gW = x.T @ delta_h + delta_z.T @ h
    gb, gb_prime = delta_h.sum(axis=0), delta_z.sum(axis=0)
    if fixed_penalty:
        # penalty = sum_nj slope_nj^2 c_j / n with c_j = sum_i W_ij^2; dslope/da = slope (1 - 2h)
        c = numpy.sum(W ** 2, axis=0)
        delta_a = contraction_level * 2 * slope ** 2 * (1 - 2 * h) * c / n
        gW = gW + x.T @ delta_a + contraction_level * 2 * W * numpy.sum(slope ** 2, axis=0) / n
        gb = gb + delta_a.sum(axis=0)
    return numpy.mean(L_rec), L_jacob, [gW, gb, gb_prime]


# numba spends 20-40 s compiling each of these graphs: C and JAX only
@pytest.mark.parametrize("fixed_penalty", [False, True])
@pytest.mark.parametrize("mode", [m for m in ("c", "jax") if m in available_modes()])
def test_costs_and_update_against_numpy(floatX64, mode, fixed_penalty):
    # 200 Jacobian entries: a penalty of a few units, so that flooring shows
    n, n_visible, n_hidden, lr, level = 3, 20, 10, 0.1, 0.5
    x = T.matrix("x")
    ca = cA(numpy.random.RandomState(1), input=x, n_visible=n_visible, n_hidden=n_hidden,
            n_batchsize=n)
    ca.b.set_value(numpy.random.RandomState(2).uniform(-0.5, 0.5, n_hidden))
    ca.b_prime.set_value(numpy.random.RandomState(3).uniform(-0.5, 0.5, n_visible))
    before = [p.get_value() for p in ca.params]
    cost, updates = ca.get_cost_updates(contraction_level=level, learning_rate=lr,
                                        fixed_penalty=fixed_penalty)
    xs = numpy.random.RandomState(4).uniform(0.05, 0.95, (n, n_visible))
    with in_mode(mode):
        train = engine.function([x], [cost, T.mean(ca.L_rec), ca.L_jacob], updates=updates)
    got = train(xs)

    rec, jacob, grads = _numpy_costs_and_grads(xs, *before, level, fixed_penalty)
    assert jacob > 1 and (jacob == int(jacob)) != fixed_penalty
    numpy.testing.assert_allclose(got, [rec + level * jacob, rec, jacob], rtol=1e-12)
    for param, value, grad in zip(ca.params, before, grads):
        numpy.testing.assert_allclose(param.get_value(), value - lr * grad, rtol=1e-12,
                                      atol=1e-15, err_msg=param.name)


def test_only_the_fixed_penalty_has_a_gradient_and_it_trains_the_contraction(floatX64):
    n, n_visible, n_hidden = 5, 20, 8
    xs = numpy.random.RandomState(4).uniform(0.05, 0.95, (n, n_visible))
    penalties = {}
    for fixed_penalty in (False, True):
        x = T.matrix("x")
        ca = cA(numpy.random.RandomState(1), input=x, n_visible=n_visible, n_hidden=n_hidden,
                n_batchsize=n)
        cost, updates = ca.get_cost_updates(contraction_level=1.0, learning_rate=0.05,
                                            fixed_penalty=fixed_penalty)
        penalty_gradient = engine.grad(ca.L_jacob, ca.W)
        step = engine.function([x], [ca.L_jacob, penalty_gradient], updates=updates)
        runs = [step(xs) for _ in range(30)]
        assert numpy.abs(runs[0][1]).max() > 0 if fixed_penalty else not runs[0][1].any()
        penalties[fixed_penalty] = [float(L_jacob) for L_jacob, _ in runs]
    fixed, floored = penalties[True], penalties[False]
    assert fixed[-1] < 0.5 * fixed[0]  # the contraction trains
    assert fixed[-1] < floored[-1]  # the floored penalty does not
    assert fixed[0] == pytest.approx(floored[0], abs=1)  # from the same start


# the original's first epoch line on the full MNIST (cA.py on theano-pymc 1.1.2, float64): it
# shows minibatches 0 and 1 only, the same 20 images in the tiny cut
ORIGINAL_LINE = "Training epoch 0, reconstruction cost  589.3672383224493  jacobian norm  " \
                "20.999259101134292"


@pytest.fixture(scope="module")
def forty_images(tmp_path_factory):
    """40 training images: 4 minibatches of 10."""
    (tx, ty), (vx, vy), (sx, sy) = data.load_data()
    path = tmp_path_factory.mktemp("data") / "forty.npz"
    data.save_npz(path, ((tx[:40], ty[:40]), (vx[:10], vy[:10]), (sx[:10], sy[:10])))
    return path


def test_tiny_run_prints_the_original_line_and_writes_the_filters(forty_images, tmp_path,
                                                                  floatX64, caplog):
    caplog.set_level(logging.INFO, logger="dltut")
    folder = tmp_path / "new" / "cA_plots"  # made if missing, parents too
    run = dltut.test_cA(training_epochs=1, dataset=forty_images, output_folder=folder)
    messages = [record.getMessage() for record in caplog.records]
    assert ORIGINAL_LINE in messages
    assert run.logged == [(589.3672383224493, 20.999259101134292)]
    assert any(m.startswith("The code for file cA.py ran for ") and m.endswith("m")
               for m in messages)
    # the epoch's true means are kept too: one reconstruction cost and one norm per minibatch
    assert run.reconstruction_costs[0] != run.logged[0][0] and len(run.jacobian_norms) == 1
    assert [p.name for p in folder.iterdir()] == ["cae_filters.png"]
    pixels, _ = read_grey_png(run.filters)
    numpy.testing.assert_array_equal(pixels, plots.tile_raster_images(
        numpy.asarray(run.ca.W.get_value()).T[:100], (28, 28), (10, 10), (1, 1)))

    caplog.clear()
    fixed = dltut.test_cA(training_epochs=1, dataset=forty_images, output_folder=folder,
                          fixed_penalty=True)
    means = (fixed.reconstruction_costs[0], fixed.jacobian_norms[0])
    assert fixed.logged == [means]
    assert "Training epoch 0, reconstruction cost  %r  jacobian norm  %r" % means in \
        [record.getMessage() for record in caplog.records]


def test_bad_settings_fail_before_training(forty_images, tmp_path):
    with pytest.raises(ValueError, match="training_epochs must be a positive integer, got 0"):
        dltut.test_cA(training_epochs=0, dataset=forty_images, output_folder=tmp_path / "a")
    with pytest.raises(ValueError, match="batch_size 50 is larger than the training set"):
        dltut.test_cA(training_epochs=1, dataset=forty_images, batch_size=50,
                      output_folder=tmp_path / "b")
    with pytest.raises(ValueError, match=r"contraction_level must be a number >= 0 .*got -0.1"):
        dltut.test_cA(dataset=forty_images, contraction_level=-0.1, output_folder=tmp_path / "c")
    with pytest.raises(ValueError, match="learning_rate must be positive, got 0"):
        dltut.test_cA(dataset=forty_images, learning_rate=0, output_folder=tmp_path / "d")
    with pytest.raises(TypeError, match=r"unexpected options \['out'\]"):
        dltut.test_cA(dataset=forty_images, out=tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())
