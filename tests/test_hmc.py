"""hmc: the leapfrog against NumPy, its energy error, the Metropolis test and the step-size rule
against NumPy, the sampler's draws against a NumPy HMC fed the NumPy MRG reference's normals and
uniforms (every mode), bad settings, and test_hmc's samples against its target Gaussian."""

import re

import numpy
import pytest

from dltut import engine
from dltut.engine import T
from dltut.random import MAX_STREAMS, NumpyStreams, RandomStreams
from dltut.tutorials import hmc
from dltut.tutorials.hmc import HMC_sampler

# test_hmc's Gaussian: dim 5 from RandomState(123), as sampler_on_nd_gaussian draws it
DIM = 5


def _target(dim=DIM):
    rng = numpy.random.RandomState(123)
    mu = rng.rand(dim) * 10
    cov = rng.rand(dim, dim)
    cov = (cov + cov.T) / 2.0
    cov[numpy.arange(dim), numpy.arange(dim)] = 1.0
    return mu, numpy.linalg.inv(cov), rng.randn(hmc.BATCHSIZE, dim)


def _energy(mu, cov_inv):
    """``energy_fn`` (symbolic) and ``(energy, gradient)`` in NumPy of the Gaussian."""
    def symbolic(x):
        return 0.5 * (T.dot(x - mu, cov_inv) * (x - mu)).sum(axis=1)

    def numeric(x):
        d = x - mu
        return 0.5 * ((d @ cov_inv) * d).sum(axis=1), d @ (cov_inv + cov_inv.T) / 2

    return symbolic, numeric


def numpy_leapfrog(pos, vel, eps, n_steps, energy):
    vel = vel - 0.5 * eps * energy(pos)[1]
    pos = pos + eps * vel
    for _ in range(n_steps - 1):
        vel = vel - eps * energy(pos)[1]
        pos = pos + eps * vel
    return pos, vel - 0.5 * eps * energy(pos)[1]


def numpy_hamiltonian(pos, vel, energy):
    return energy(pos)[0] + 0.5 * (vel ** 2).sum(axis=1)


def numpy_adapt(eps, avg, accept, target=0.9, inc=1.02, dec=0.98, low=0.001, high=0.25,
                slowness=0.9):
    """The step size and average acceptance rate after a move (both from the old average)."""
    new_eps = numpy.clip(eps * inc if avg > target else eps * dec, low, high)
    return new_eps, slowness * avg + (1 - slowness) * numpy.mean(accept)


def _compile_dynamics(n_steps, energy_fn):
    pos, vel, eps = T.matrix("pos"), T.matrix("vel"), T.scalar("eps")
    final = hmc.simulate_dynamics(pos, vel, eps, n_steps, energy_fn)
    return engine.function([pos, vel, eps], list(final))


def _start(seed=0):
    rng = numpy.random.RandomState(seed)
    return rng.randn(hmc.BATCHSIZE, DIM) * 2, rng.randn(hmc.BATCHSIZE, DIM)


def test_leapfrog_against_numpy(floatX64, mode):
    mu, cov_inv, _ = _target()
    symbolic, numeric = _energy(mu, cov_inv)
    pos, vel = _start()
    got = _compile_dynamics(4, symbolic)(pos, vel, 0.1)
    for g, e in zip(got, numpy_leapfrog(pos, vel, 0.1, 4, numeric)):
        numpy.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-13)


def test_one_leapfrog_step_is_two_half_steps(floatX64):
    # n_steps=1 has no scan (the tutorial's needs n_steps >= 2)
    mu, cov_inv, _ = _target()
    symbolic, numeric = _energy(mu, cov_inv)
    pos, vel = _start(1)
    got = _compile_dynamics(1, symbolic)(pos, vel, 0.3)
    for g, e in zip(got, numpy_leapfrog(pos, vel, 0.3, 1, numeric)):
        numpy.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-13)


def test_energy_error_is_second_order_in_the_step(floatX64):
    # the leapfrog keeps the Hamiltonian up to O(eps^2) over a fixed time: halving the step
    # divides the error by about 4. Two trajectories back to back are one twice as long (the
    # last half kick of the first and the first of the second make a full one).
    mu, cov_inv, _ = _target()
    symbolic, numeric = _energy(mu, cov_inv)
    pos, vel = _start(2)
    start = numpy_hamiltonian(pos, vel, numeric)
    dynamics = _compile_dynamics(25, symbolic)
    errors = []
    for eps, trajectories in ((0.04, 1), (0.02, 2)):
        final_pos, final_vel = pos, vel
        for _ in range(trajectories):
            final_pos, final_vel = dynamics(final_pos, final_vel, eps)
        errors.append(numpy.abs(numpy_hamiltonian(final_pos, final_vel, numeric) - start))
        assert numpy.abs(final_pos - pos).min() > 1e-3  # it moved, over a time of 1
    assert errors[0].max() < 1e-3 * numpy.abs(start).max()
    numpy.testing.assert_allclose(errors[0] / errors[1], 4.0, rtol=0.1)


def test_metropolis_accept_against_numpy_uniforms(floatX64, mode):
    if mode == "numba":
        pytest.skip("CI time: Numba mode draws test_hmc's 2,000 draws (test_originals.py)")
    n = 8
    # of a known length on PyTensor, as the sampler's energies (JAX compiles only such draws)
    static = {"shape": (n,)} if engine.name() == "pytensor" else {}
    prev, nxt = T.vector("prev", **static), T.vector("next", **static)
    accept = hmc.metropolis_hastings_accept(prev, nxt, RandomStreams(7))
    f = engine.function([prev, nxt], accept)
    energy_prev = numpy.zeros(n)
    energy_next = numpy.linspace(-0.5, 3.0, n)  # accept probabilities 1 down to exp(-3)
    # a symbolic size in the tutorial: 15360 streams, which dltut asks for explicitly
    uniforms = NumpyStreams(7).uniform((n,), nstreams=MAX_STREAMS, draws=3)
    for u in uniforms:
        expected = numpy.exp(energy_prev - energy_next) - u >= 0
        numpy.testing.assert_array_equal(f(energy_prev, energy_next), expected)
    assert 0 < sum(expected.sum() for expected in
                   (numpy.exp(energy_prev - energy_next) - u >= 0 for u in uniforms)) < 3 * n


def test_step_size_and_acceptance_rule(floatX64, mode):
    positions = engine.shared(numpy.zeros((4, 2)), "positions")
    stepsize = engine.shared(numpy.asarray(0.1), "stepsize")
    avg = engine.shared(numpy.asarray(0.9), "avg")
    final_pos = T.matrix("final_pos")
    accept = T.vector("accept", dtype="bool")
    updates = hmc.hmc_updates(positions, stepsize, avg, final_pos, accept,
                              target_acceptance_rate=0.9, stepsize_inc=1.02, stepsize_dec=0.98,
                              stepsize_min=0.001, stepsize_max=0.25, avg_acceptance_slowness=0.9)
    move = engine.function([final_pos, accept], [], updates=updates)
    proposal = numpy.arange(8.0).reshape(4, 2) + 1
    # (step size, average before; accepted particles): above the target grows the step, at or
    # below it shrinks it, and the bounds clip it
    cases = [(0.1, 0.95, [1, 1, 1, 1]), (0.1, 0.9, [1, 0, 1, 1]), (0.1, 0.5, [0, 0, 0, 1]),
             (0.249, 0.99, [1, 1, 1, 1]), (0.00101, 0.2, [0, 0, 0, 0])]
    for eps, rate, accepted in cases:
        before = positions.get_value()
        stepsize.set_value(numpy.asarray(eps))
        avg.set_value(numpy.asarray(rate))
        move(proposal, numpy.array(accepted, dtype=bool))
        expected_eps, expected_avg = numpy_adapt(eps, rate, accepted)
        assert stepsize.get_value() == pytest.approx(expected_eps, rel=1e-15)
        assert avg.get_value() == pytest.approx(expected_avg, rel=1e-15)
        numpy.testing.assert_array_equal(
            positions.get_value(), numpy.where(numpy.array(accepted, bool)[:, None], proposal,
                                               before))
    assert stepsize.get_value() == 0.001  # the last case hit the lower bound


def _numpy_draws(n_draws, n_steps=20, initial_stepsize=1e-3, stepsize_max=0.5, seed=12345):
    """sampler_on_nd_gaussian's first draws by a NumPy HMC on the NumPy MRG reference: the
    velocities from call site 0 (normal), the Metropolis uniforms from call site 1."""
    mu, cov_inv, pos = _target()
    _, energy = _energy(mu, cov_inv)
    streams = NumpyStreams(seed)
    normals = streams.normal(pos.shape, nstreams=MAX_STREAMS, draws=n_draws)
    uniforms = streams.uniform((len(pos),), nstreams=MAX_STREAMS, draws=n_draws)
    eps, avg = initial_stepsize, 0.9
    draws, stepsizes, rates = [], [], []
    for vel, u in zip(normals, uniforms):
        final_pos, final_vel = numpy_leapfrog(pos, vel, eps, n_steps, energy)
        accept = numpy.exp(numpy_hamiltonian(pos, vel, energy)
                           - numpy_hamiltonian(final_pos, final_vel, energy)) - u >= 0
        pos = numpy.where(accept[:, None], final_pos, pos)
        eps, avg = numpy_adapt(eps, avg, accept, high=stepsize_max)
        draws.append(pos)
        stepsizes.append(eps)
        rates.append(avg)
    return numpy.array(draws), numpy.array(stepsizes), numpy.array(rates)


# the original's first draw (code/hmc/test_hmc.py on theano-pymc 1.1.2, floatX=float64; see
# test_originals.py), to 17 digits
ORIGINAL_FIRST_DRAW = [
    [-0.12956446111224373, -0.894290294056933, -0.24691938699980556, -2.783091762046705,
     -1.7936415512676847],
    [-0.6915729110655353, 0.9338904523677151, -0.1937317070930311, -0.009965449244570943,
     0.677769142094241],
    [-0.8631450686969017, 0.276977868982133, -0.810087662328708, -1.73404321715511,
     -0.4097744188553542],
]


def test_draws_against_numpy_hmc(floatX64, mode):
    if mode == "numba":
        pytest.skip("CI time: Numba mode draws test_hmc's 2,000 draws (test_originals.py)")
    n = 4
    run = hmc.sampler_on_nd_gaussian(HMC_sampler.new_from_shared_positions, burnin=0,
                                     n_samples=n, dim=DIM)
    draws = run.draws
    numpy.testing.assert_array_equal(run.samples.T.reshape(DIM, hmc.BATCHSIZE, n).T, draws)
    expected, stepsizes, rates = _numpy_draws(n)
    numpy.testing.assert_allclose(draws, expected, rtol=1e-12, atol=1e-14)
    numpy.testing.assert_allclose(run.stepsizes, stepsizes, rtol=1e-15)
    numpy.testing.assert_allclose(run.acceptance_rates, rates, rtol=1e-15)
    numpy.testing.assert_allclose(draws[0], ORIGINAL_FIRST_DRAW, rtol=1e-12)
    assert (draws[1:] != draws[:-1]).any()  # it moves

    sampler = run.sampler
    assert (sampler.stepsize.name, sampler.avg_acceptance_rate.name) == \
        ("hmc_stepsize", "avg_acceptance_rate")
    assert (sampler.stepsize_min, sampler.stepsize_max, sampler.target_acceptance_rate,
            sampler.n_steps) == (0.001, 0.5, 0.9, 20)
    # two call sites of 15360 streams: the velocities, then the Metropolis uniforms
    streams = NumpyStreams(12345)
    for _ in range(2):
        streams._call_site(MAX_STREAMS)
    state = sampler.s_rng.state()
    assert sorted(state) == ["hmc_rstate_0", "hmc_rstate_1", "rstate"]
    numpy.testing.assert_array_equal(state["rstate"], streams.rstate)

    if engine.name() == "pytensor":  # compiled for 3 particles
        sampler.positions.set_value(numpy.zeros((4, DIM)))
        with pytest.raises(ValueError, match=r"^position: positions of shape \(4, 5\), but this "
                                             r"sampler was compiled for \(3, 5\)"):
            sampler.draw()


@pytest.mark.parametrize("setting, value, message", [
    ("initial_stepsize", 0.0, "initial_stepsize must be a positive number (the tutorial's is "
                              "0.01), got 0.0"),
    ("initial_stepsize", float("nan"), "initial_stepsize must be a positive number"),
    ("stepsize_min", -1e-3, "stepsize_min must be a positive number (default 0.001), got -0.001"),
    ("stepsize_max", 1e-4, "stepsize_max must be at least stepsize_min=0.001 (default 0.25), "
                           "got 0.0001"),
    ("target_acceptance_rate", 1.0, "target_acceptance_rate must be a rate strictly between 0 "
                                    "and 1 (the tutorial's is 0.9), got 1.0"),
    ("target_acceptance_rate", 0, "target_acceptance_rate must be a rate strictly between 0"),
    ("n_steps", 0, "n_steps must be an integer >= 1 (leapfrog steps a move; the tutorial's is "
                   "20), got 0"),
    ("n_steps", 2.5, "n_steps must be an integer >= 1"),
    ("stepsize_inc", 0.9, "stepsize_inc must be a factor of at least 1 that grows the step "
                          "size (default 1.02), got 0.9"),
    ("stepsize_dec", 1.5, "stepsize_dec must be a factor in (0, 1] that shrinks the step size "
                          "(default 0.98), got 1.5"),
    ("avg_acceptance_slowness", 1.0, "avg_acceptance_slowness must be in [0, 1)"),
    ("seed", 0, "seed should not be 0: got 0"),
    ("seed", -5, "seed should be between 1 and 2147462578: got -5"),
])
def test_bad_settings_are_one_clear_error(floatX64, setting, value, message):
    positions = engine.shared(numpy.zeros((3, 2)), "position")
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        HMC_sampler.new_from_shared_positions(positions, lambda x: (x ** 2).sum(axis=1),
                                              **{setting: value})


def test_positions_must_be_a_shared_matrix(floatX64):
    with pytest.raises(ValueError, match="shared_positions must be a shared matrix"):
        HMC_sampler.new_from_shared_positions(engine.shared(numpy.zeros(3), "p"),
                                              lambda x: x ** 2)
    with pytest.raises(ValueError, match="burnin must be an integer >= 0"):
        hmc.test_hmc(burnin=-1)
    with pytest.raises(ValueError, match="n_samples must be an integer >= 2"):
        hmc.test_hmc(n_samples=1)


def test_samples_have_the_target_mean_and_covariance():
    # test_hmc in float32, shorter than the tutorial's 1,000 + 1,000 draws: 300 of burn-in (the
    # step size grows from 0.001 to its working size in about 300), 3 x 700 kept
    run = hmc.test_hmc(burnin=300, n_samples=700, floatX="float32")
    assert run.samples.shape == (2100, DIM) and run.samples.dtype == numpy.float32
    assert run.draws.shape == (1000, 3, DIM)
    numpy.testing.assert_allclose(run.samples.mean(axis=0), run.mu, atol=0.1)
    numpy.testing.assert_allclose(numpy.cov(run.samples.T), run.cov, atol=0.15)
    # the tutorial's own test
    sampler = run.sampler
    assert abs(sampler.avg_acceptance_rate.get_value() - sampler.target_acceptance_rate) < 0.1
    assert sampler.stepsize_min <= sampler.stepsize.get_value() <= sampler.stepsize_max
    # the step size grew from 0.001 while the moves were accepted
    assert run.stepsizes[0] == pytest.approx(0.001) and run.stepsizes[299] > 0.1
    assert len(run.stepsizes) == len(run.acceptance_rates) == 1000
