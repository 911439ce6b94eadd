"""rbm: the first draw, the free energy and the conditionals against NumPy, CD-k and PCD-k updates
and costs against NumPy given the draws of the NumPy MRG reference, the reconstruction cost's
stability, and small test_rbm runs in every mode (fused and not)."""

import logging

import numpy
import pytest

import dltut
from conftest import in_every_mode, in_mode, read_grey_png
from dltut import engine, plots
from dltut.engine import T
from dltut.random import MAX_STREAMS, NumpyStreams, RandomStreams, seed_state
from dltut.tutorials import rbm as rbm_module
from dltut.tutorials.rbm import RBM

N, N_VISIBLE, N_HIDDEN = 3, 6, 4  # a minibatch of the tests' small machine


def _sigmoid(a):
    return 1.0 / (1.0 + numpy.exp(-a))


def _free_energy(v, W, hbias, vbias):
    return -numpy.log1p(numpy.exp(v @ W + hbias)).sum(axis=1) - v @ vbias


def _small_rbm(x=None, seed=42):
    """An RBM of 6 visible and 4 hidden units with nonzero biases, on ``x`` (a new matrix of the
    minibatch's static shape if None: JAX compiles a draw only when its size is known)."""
    if x is None:  # Theano's matrices have no static shape (nor need one)
        x = T.matrix("x", shape=(N, N_VISIBLE)) if engine.name() == "pytensor" else T.matrix("x")
    rbm = RBM(input=x, n_visible=N_VISIBLE, n_hidden=N_HIDDEN,
              numpy_rng=numpy.random.RandomState(1), theano_rng=RandomStreams(seed))
    rbm.hbias.set_value(numpy.random.RandomState(2).uniform(-0.5, 0.5, N_HIDDEN))
    rbm.vbias.set_value(numpy.random.RandomState(3).uniform(-0.5, 0.5, N_VISIBLE))
    return rbm


def _minibatch():
    return numpy.random.RandomState(4).uniform(0.0, 1.0, (N, N_VISIBLE))


def test_initial_weights_are_the_tutorial_draw(floatX64):
    # rbm.py with neither rng given: RandomState(1234), the streams' seed, then W
    rbm = RBM(n_visible=784, n_hidden=500)
    rng = numpy.random.RandomState(1234)
    seed = rng.randint(2 ** 30)
    bound = 4 * numpy.sqrt(6.0 / (500 + 784))
    numpy.testing.assert_array_equal(rbm.W.get_value(),
                                     rng.uniform(low=-bound, high=bound, size=(784, 500)))
    numpy.testing.assert_array_equal(rbm.theano_rng.rstate, seed_state(seed))
    assert [p.name for p in rbm.params] == ["W_rbm", "hbias_rbm", "vbias_rbm"]
    assert rbm.hbias.get_value().shape == (500,) and not rbm.hbias.get_value().any()
    assert rbm.vbias.get_value().shape == (784,) and not rbm.vbias.get_value().any()
    shared_W = engine.shared(numpy.ones((6, 4)), "W_shared")
    assert RBM(n_visible=6, n_hidden=4, W=shared_W).W is shared_W


def test_free_energy_and_conditionals_against_numpy(floatX64):
    rbm = _small_rbm()
    v, h = T.matrix("v"), T.matrix("h")
    f = engine.function([v, h], [rbm.free_energy(v), *rbm.propup(v), *rbm.propdown(h)])
    vs = _minibatch()
    hs = numpy.random.RandomState(5).uniform(0.0, 1.0, (N, N_HIDDEN))
    W, hbias, vbias = (p.get_value() for p in rbm.params)
    expected = [_free_energy(vs, W, hbias, vbias), vs @ W + hbias, _sigmoid(vs @ W + hbias),
                hs @ W.T + vbias, _sigmoid(hs @ W.T + vbias)]
    for got, want in zip(f(vs, hs), expected):
        numpy.testing.assert_allclose(got, want, rtol=1e-13)


def _uniforms(streams, rows, columns, draws):
    """``draws`` uniforms of a call site drawing (rows, columns) of a symbolic size, as Theano
    draws the samples (15360 streams)."""
    return streams.uniform((rows, columns), dtype="float64", nstreams=MAX_STREAMS, draws=draws)


def _numpy_step(x, W, hbias, vbias, chain_start, u_v, u_h, lr):
    """CD-k or PCD-k by hand from the chain's hidden start and the k steps' uniforms: the new
    parameters, the last step's visible pre-sigmoid and the chain's hidden end."""
    h = chain_start
    for uv, uh in zip(u_v, u_h):
        pre_v = h @ W.T + vbias
        v = (uv < _sigmoid(pre_v)).astype("float64")
        h = (uh < _sigmoid(v @ W + hbias)).astype("float64")
    # the gradient of mean F(x) - mean F(v), v held constant
    n = len(x)
    p_x, p_v = _sigmoid(x @ W + hbias), _sigmoid(v @ W + hbias)
    grads = [(v.T @ p_v - x.T @ p_x) / n, (p_v - p_x).mean(axis=0), (v - x).mean(axis=0)]
    new = [p - lr * g for p, g in zip((W, hbias, vbias), grads)]
    return new, pre_v, h


def test_cd_k_update_and_reconstruction_cost_against_numpy(floatX64):
    k, lr = 2, 0.1
    rbm = _small_rbm()
    before = [p.get_value() for p in rbm.params]
    cost, updates = rbm.get_cost_updates(lr=lr, k=k)
    train = engine.function([rbm.input], cost, updates=list(updates.items()))
    xs = _minibatch()
    got = [float(train(xs)) for _ in range(2)]

    # call sites: the positive phase's hidden sample, then the scan's visible and hidden samples
    streams = NumpyStreams(42)
    u_ph = _uniforms(streams, N, N_HIDDEN, 2)
    u_v = _uniforms(streams, N, N_VISIBLE, 2 * k)
    u_h = _uniforms(streams, N, N_HIDDEN, 2 * k)
    params = before
    for call in range(2):
        W, hbias, vbias = params
        chain_start = (u_ph[call] < _sigmoid(xs @ W + hbias)).astype("float64")
        steps = slice(call * k, (call + 1) * k)
        params, pre_v, _ = _numpy_step(xs, *params, chain_start, u_v[steps], u_h[steps], lr)
        p = _sigmoid(pre_v)
        expected = numpy.mean(numpy.sum(xs * numpy.log(p) + (1 - xs) * numpy.log(1 - p), axis=1))
        assert got[call] == pytest.approx(expected, rel=1e-12), call
    for param, value in zip(rbm.params, params):
        numpy.testing.assert_allclose(param.get_value(), value, rtol=1e-12, atol=1e-14,
                                      err_msg=param.name)


def test_pcd_k_chain_and_pseudo_likelihood_against_numpy(floatX64):
    k, lr = 3, 0.05
    rbm = _small_rbm()
    chain = numpy.random.RandomState(6).randint(0, 2, (N, N_HIDDEN)).astype("float64")
    persistent = engine.shared(chain.copy(), "persistent_chain", static_shape=True)
    before = [p.get_value() for p in rbm.params]
    cost, updates = rbm.get_cost_updates(lr=lr, persistent=persistent, k=k)
    assert persistent in updates
    (bit_i_idx,) = [v for v in updates if v.name == "bit_i_idx"]
    train = engine.function([rbm.input], cost, updates=list(updates.items()))
    # pixels at and around one half: rounded half to even, as Theano's round
    xs = numpy.array([[0.0, 0.5, 1.0, 0.49, 0.51, 1.0],
                      [1.0, 1.0, 0.0, 0.2, 0.7, 0.5],
                      [0.3, 0.0, 0.8, 1.0, 0.5, 0.1]])
    got = [float(train(xs)) for _ in range(N_VISIBLE + 1)]

    # the positive phase's draw is not used by PCD: only the scan's call sites draw
    streams = NumpyStreams(42)
    _uniforms(streams, N, N_HIDDEN, 1)
    u_v = _uniforms(streams, N, N_VISIBLE, (N_VISIBLE + 1) * k)
    u_h = _uniforms(streams, N, N_HIDDEN, (N_VISIBLE + 1) * k)
    xi = numpy.round(xs)
    assert xi[0, 1] == 0 and xi[1, 5] == 0 and xi[2, 4] == 0
    params = before
    for call in range(N_VISIBLE + 1):
        i = call % N_VISIBLE  # the bit flipped, one more each call
        xi_flip = xi.copy()
        xi_flip[:, i] = 1 - xi_flip[:, i]
        fe_diff = _free_energy(xi_flip, *params) - _free_energy(xi, *params)
        expected = numpy.mean(N_VISIBLE * numpy.log(_sigmoid(fe_diff)))
        assert got[call] == pytest.approx(expected, rel=1e-12), call
        steps = slice(call * k, (call + 1) * k)
        params, _, chain = _numpy_step(xs, *params, chain, u_v[steps], u_h[steps], lr)
    numpy.testing.assert_array_equal(persistent.get_value(), chain)
    assert bit_i_idx.get_value() == (N_VISIBLE + 1) % N_VISIBLE
    for param, value in zip(rbm.params, params):
        numpy.testing.assert_allclose(param.get_value(), value, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("floatX", ["float64", "float32"])
def test_costs_are_finite_for_saturated_units(floatX, modes):
    # a sigmoid of +-800 is 1 or 0, whose logs are -inf, and e^800 is inf: the reconstruction
    # cost must come out as -softplus, the free energy's log(1 + e^a) as softplus
    engine.set_floatX(floatX)
    x, pre = T.matrix("x"), T.matrix("pre_sigmoid_nv")
    rbm = RBM(input=x, n_visible=4, n_hidden=4, numpy_rng=numpy.random.RandomState(1))
    rbm.W.set_value(numpy.diag([800.0, -800.0, 50.0, 1.0]).astype(floatX))
    costs = [rbm.get_reconstruction_cost({}, pre), rbm.free_energy(x)]
    xs = numpy.array([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.5, 0.5]], dtype=floatX)
    pres = numpy.array([[-800.0, 800.0, 50.0, -50.0], [-30.0, 0.0, 2.0, -3.0]], dtype=floatX)
    softplus = numpy.logaddexp(0.0, pres.astype("float64"))  # log(1 + e^a)
    expected = [numpy.mean(numpy.sum(-xs * (softplus - pres) - (1 - xs) * softplus, axis=1)),
                -numpy.logaddexp(0.0, xs.astype("float64") @ numpy.diag([800, -800, 50, 1.0]))
                .sum(axis=1)]

    def run(mode):
        return engine.function([x, pre], costs)(xs, pres)

    for mode, got in in_every_mode(run, modes).items():
        for value, want in zip(got, expected):
            assert numpy.isfinite(value).all(), mode
            numpy.testing.assert_allclose(value, want, rtol=1e-6 if floatX == "float32" else 1e-13,
                                          err_msg=mode)


def test_bad_k_is_a_value_error():
    rbm = RBM(n_visible=6, n_hidden=4)
    for k in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match=rf"k must be a positive integer .* got {k!r}"):
            rbm.get_cost_updates(k=k)
    with pytest.raises(ValueError, match="n_hidden must be a positive integer, got 0"):
        RBM(n_visible=6, n_hidden=0)


# ---------------------------------------------------------------------------------------------
# test_rbm


@pytest.fixture
def short_chains(monkeypatch):
    """10 Gibbs steps between plotted samples instead of 1000: the same compiled scan, run
    shorter (the slow test in test_originals runs the tutorial's 1000)."""
    monkeypatch.setattr(rbm_module, "PLOT_EVERY", 10)


def _tiny_test_rbm(tiny_mnist, folder, **options):
    return dltut.test_rbm(training_epochs=1, dataset=tiny_mnist, batch_size=50, n_chains=3,
                          n_samples=2, n_hidden=30, output_folder=folder, **options)


@pytest.mark.slow  # 26 s cold; the RBM's costs and updates are checked against NumPy above
def test_tiny_runs_agree_in_every_mode_fused_or_not(tiny_mnist, tmp_path, floatX64, short_chains,
                                                    caplog, modes):
    caplog.set_level(logging.INFO, logger="dltut")
    folder = tmp_path / "new" / "rbm_plots"  # made if missing, parents too
    # the default in each mode: one call per minibatch in the C and Numba modes, fused in JAX's
    runs = in_every_mode(lambda mode: _tiny_test_rbm(tiny_mnist, folder / mode), modes)
    reference = runs["c"]
    assert plots.filter_images(reference.rbm)[0] == "W_rbm"  # plot_filters finds the weights
    for mode, run in runs.items():
        assert len(run.costs) == 1
        numpy.testing.assert_allclose(run.costs, reference.costs, rtol=1e-9, err_msg=mode)
        numpy.testing.assert_allclose(run.rbm.W.get_value(), reference.rbm.W.get_value(),
                                      rtol=1e-9, atol=1e-12, err_msg=mode)
        assert run.sample_means.shape == (2, 3, 784)
        numpy.testing.assert_allclose(run.sample_means, reference.sample_means, rtol=1e-7,
                                      atol=1e-9, err_msg=mode)
        pixels, _ = read_grey_png(run.filters[0])
        numpy.testing.assert_array_equal(pixels, plots.tile_raster_images(
            numpy.asarray(run.rbm.W.get_value()).T[:100], (28, 28), (10, 10), (1, 1)))
        pixels, _ = read_grey_png(run.samples)
        assert pixels.shape == (29 * 2 + 1, 29 * 3 - 1)
        numpy.testing.assert_array_equal(pixels[29:57], plots.tile_raster_images(
            run.sample_means[1], (28, 28), (1, 3), (1, 1)))
        assert not pixels[28].any() and not pixels[-1].any()
        assert sorted(p.name for p in (folder / mode).iterdir()) == \
            ["filters_at_epoch_0.png", "samples.png"]
    messages = [record.getMessage() for record in caplog.records]
    for run in runs.values():
        assert f"Training epoch 0, cost is  {run.costs[0]!r}" in messages
    assert sum(m.startswith("Training took ") and m.endswith(" minutes") for m in messages) \
        == len(runs)
    assert messages.count(" ... plotting sample 1") == len(runs)

    if "jax" in runs:  # a fused epoch equals one call per minibatch, exactly
        with in_mode("jax"):
            unfused = _tiny_test_rbm(tiny_mnist, tmp_path / "jax_unfused", fused=False)
        fused = runs["jax"]
        assert fused.costs == unfused.costs
        for param, expected in zip(fused.rbm.params, unfused.rbm.params):
            numpy.testing.assert_array_equal(param.get_value(), expected.get_value())
        numpy.testing.assert_array_equal(fused.sample_means, unfused.sample_means)


def test_bad_settings_fail_before_training(tiny_mnist, tmp_path):
    for settings, message in [
        (dict(training_epochs=0), "training_epochs must be a positive integer, got 0"),
        (dict(n_samples=0), "n_samples must be a positive integer, got 0"),
        (dict(batch_size=700), "batch_size 700 is larger than the training set"),
        (dict(n_chains=200), r"n_chains 200 is not smaller than the test set \(200 images\).*"
                             r"use n_chains of at most 199"),
    ]:
        with pytest.raises(ValueError, match=message):
            dltut.test_rbm(dataset=tiny_mnist, output_folder=tmp_path / "a", **settings)
    with pytest.raises(TypeError, match=r"unexpected options \['out'\]"):
        dltut.test_rbm(training_epochs=1, dataset=tiny_mnist, out=tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())
