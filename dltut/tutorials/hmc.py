"""Hybrid Monte Carlo sampling (the tutorial's hmc.py and test_hmc.py).

HMC draws from :math:`p(s) \\propto \\exp(-E(s))` by simulating a particle: its position ``s``
and a velocity ``phi`` drawn afresh from a standard normal at each move. Its Hamiltonian

.. math::
    \\mathcal{H}(s, \\phi) = E(s) + K(\\phi) = E(s) + \\frac{1}{2} \\sum_i \\phi_i^2

stays nearly constant along ``n_steps`` leapfrog steps of the dynamics, so the end of the
trajectory is a distant proposal that a Metropolis test accepts with probability
:math:`\\min(1, \\exp(\\mathcal{H}_{start} - \\mathcal{H}_{end}))`. Between moves the step size
grows by ``stepsize_inc`` while the moving average of the acceptance rate is above
``target_acceptance_rate`` and shrinks by ``stepsize_dec`` while it is below.

``HMC_sampler.new_from_shared_positions`` builds one compiled move for a batch of particles
(the rows of a shared matrix); ``draw()`` runs it and returns the new positions.
``sampler_on_nd_gaussian`` samples a correlated Gaussian with the tutorial's seeds and logs the
empirical mean and covariance against the target's; ``test_hmc`` runs it with the tutorial's
settings.

The random draws are Theano's MRG streams (``dltut.random``) seeded 12345, with the tutorial's
two call sites in its order: the velocities (``normal``), then the Metropolis uniforms.

References: S. Duane, A. D. Kennedy, B. J. Pendleton, D. Roweth, Hybrid Monte Carlo, Physics
Letters B 195, 1987; R. M. Neal, Probabilistic Inference Using Markov Chain Monte Carlo
Methods, Technical Report CRG-TR-93-1, University of Toronto, 1993.
"""

import dataclasses
import functools
import logging
import math
import numbers
import timeit

import numpy

from dltut import engine
from dltut.engine import T
from dltut.fitting import prepare
from dltut.random import MAX_STREAMS, RandomStreams, seed_state

log = logging.getLogger(__name__)

RUN_OPTIONS = ("floatX", "mode")  # the fitting.Options test_hmc takes
BATCHSIZE = 3  # test_hmc's particles: 3 chains sampled side by side


def _shape(x):
    """``x``'s shape as Python ints where its type knows them, else symbolic.

    The tutorial draws with the symbolic ``x.shape``, for which Theano takes 15360 streams
    (``MAX_STREAMS``). dltut draws the same streams, asked for by number, with the size as
    Python ints where it can: such a draw is a few elementwise operations instead of a ``scan``
    (and JAX compiles only those).
    """
    static = getattr(x.type, "shape", (None,))
    return x.shape if None in static else tuple(int(d) for d in static)


def kinetic_energy(vel):
    """The kinetic energy :math:`\\frac{1}{2} \\sum_i \\phi_i^2` of each row of ``vel`` (mass 1):
    a vector, one entry per particle."""
    return 0.5 * (vel ** 2).sum(axis=1)


def hamiltonian(pos, vel, energy_fn):
    """:math:`\\mathcal{H}(s, \\phi) = E(s) + K(\\phi)` of each particle (a row of ``pos`` and
    ``vel``); ``energy_fn`` maps the positions to the vector of their potential energies."""
    return energy_fn(pos) + kinetic_energy(vel)


def metropolis_hastings_accept(energy_prev, energy_next, s_rng):
    """Whether each particle's move is accepted: :math:`\\exp(\\mathcal{H}_{prev} -
    \\mathcal{H}_{next}) \\ge u` with ``u`` uniform in (0, 1), one per particle, drawn from
    ``s_rng`` (a boolean vector)."""
    ediff = energy_prev - energy_next
    return (T.exp(ediff) - s_rng.uniform(size=_shape(energy_prev), nstreams=MAX_STREAMS)) >= 0


def simulate_dynamics(initial_pos, initial_vel, stepsize, n_steps, energy_fn):
    """``(final_pos, final_vel)`` after ``n_steps`` leapfrog steps of size ``stepsize``.

    .. math::
        \\phi(t + \\epsilon/2) = \\phi(t) - \\frac{\\epsilon}{2} \\nabla E(s(t))

        s(t + \\epsilon) = s(t) + \\epsilon \\, \\phi(t + \\epsilon/2)

        \\phi(t + \\epsilon) = \\phi(t + \\epsilon/2)
        - \\frac{\\epsilon}{2} \\nabla E(s(t + \\epsilon))

    Consecutive steps merge the half steps of the velocity in between into one full step, so the
    trajectory is a half step, ``n_steps - 1`` pairs of full steps (a ``scan``) and a last half
    step, as in the tutorial.
    """

    def leapfrog(pos, vel, step):
        """From :math:`s(t)` and :math:`\\phi(t - \\epsilon/2)`: :math:`s(t + \\epsilon)` and
        :math:`\\phi(t + \\epsilon/2)`."""
        dE_dpos = engine.grad(energy_fn(pos).sum(), pos)
        new_vel = vel - step * dE_dpos
        new_pos = pos + step * new_vel
        return [new_pos, new_vel], {}

    # the velocity half a step on, then the position a full step on
    initial_energy = energy_fn(initial_pos)
    dE_dpos = engine.grad(initial_energy.sum(), initial_pos)
    vel_half_step = initial_vel - 0.5 * stepsize * dE_dpos
    pos_full_step = initial_pos + stepsize * vel_half_step

    if n_steps > 1:  # the tutorial's scan, which needs at least one step
        (all_pos, all_vel), scan_updates = engine.scan(
            leapfrog, outputs_info=[pos_full_step, vel_half_step], non_sequences=[stepsize],
            n_steps=n_steps - 1, name="leapfrog")
        assert not scan_updates  # the steps draw nothing: no random state to update
        final_pos, final_vel = all_pos[-1], all_vel[-1]
    else:
        final_pos, final_vel = pos_full_step, vel_half_step

    # the last velocity is half a step behind the position: the last half step
    energy = energy_fn(final_pos)
    final_vel = final_vel - 0.5 * stepsize * engine.grad(energy.sum(), final_pos)
    return final_pos, final_vel


def hmc_move(s_rng, positions, energy_fn, stepsize, n_steps):
    """One HMC move of every particle: ``(accept, final_pos)``.

    Draws the velocities from a standard normal (``s_rng.normal``), simulates ``n_steps``
    leapfrog steps from the ``positions`` and decides by Metropolis-Hastings (``s_rng.uniform``)
    whether each particle moves to its ``final_pos``.
    """
    initial_vel = s_rng.normal(size=_shape(positions), nstreams=MAX_STREAMS)
    final_pos, final_vel = simulate_dynamics(initial_pos=positions, initial_vel=initial_vel,
                                             stepsize=stepsize, n_steps=n_steps,
                                             energy_fn=energy_fn)
    accept = metropolis_hastings_accept(
        energy_prev=hamiltonian(positions, initial_vel, energy_fn),
        energy_next=hamiltonian(final_pos, final_vel, energy_fn),
        s_rng=s_rng)
    return accept, final_pos


def hmc_updates(positions, stepsize, avg_acceptance_rate, final_pos, accept,
                target_acceptance_rate, stepsize_inc, stepsize_dec, stepsize_min, stepsize_max,
                avg_acceptance_slowness):
    """The update pairs of one move: the positions, the step size and the average acceptance rate.

    .. math::
        s := s_{final} \\text{ where accepted, else } s

        \\epsilon := \\text{clip}(\\epsilon \\cdot (\\text{inc if } \\bar{a} >
        \\text{target else dec}), \\epsilon_{min}, \\epsilon_{max})

        \\bar{a} := \\text{slowness} \\cdot \\bar{a} + (1 - \\text{slowness}) \\cdot
        \\text{mean}(accept)

    The step size follows the average acceptance rate *before* this move's (both are updated
    at once), as in the tutorial.
    """
    # a particle's accept (a vector) broadcast over its coordinates
    accept_matrix = accept.dimshuffle(0, *(("x",) * (final_pos.ndim - 1)))
    new_positions = T.switch(accept_matrix, final_pos, positions)

    # too few moves accepted: the steps are too long for the energy's curvature; too many: the
    # sampler could go further for the same work
    _new_stepsize = T.switch(avg_acceptance_rate > target_acceptance_rate,
                             stepsize * stepsize_inc, stepsize * stepsize_dec)
    new_stepsize = T.clip(_new_stepsize, stepsize_min, stepsize_max)

    # an exponential moving average of the fraction of particles that moved
    mean_dtype = engine.backend().scalar.upcast(accept.dtype, avg_acceptance_rate.dtype)
    new_acceptance_rate = T.add(avg_acceptance_slowness * avg_acceptance_rate,
                                (1.0 - avg_acceptance_slowness) * accept.mean(dtype=mean_dtype))
    return [(positions, new_positions), (stepsize, new_stepsize),
            (avg_acceptance_rate, new_acceptance_rate)]


def check_hmc_settings(initial_stepsize, target_acceptance_rate, n_steps, stepsize_dec,
                       stepsize_min, stepsize_max, stepsize_inc, avg_acceptance_slowness, seed):
    """The sampler's settings, each checked before anything is built: a ValueError naming the
    first bad one, its value and what would do."""
    def number(value):
        return (isinstance(value, numbers.Real) and not isinstance(value, bool)
                and math.isfinite(value))

    rules = [
        ("initial_stepsize", initial_stepsize, lambda v: v > 0,
         "a positive number (the tutorial's is 0.01)"),
        ("stepsize_min", stepsize_min, lambda v: v > 0, "a positive number (default 0.001)"),
        ("stepsize_max", stepsize_max, lambda v: v >= stepsize_min,
         f"at least stepsize_min={stepsize_min} (default 0.25)"),
        ("target_acceptance_rate", target_acceptance_rate, lambda v: 0 < v < 1,
         "a rate strictly between 0 and 1 (the tutorial's is 0.9)"),
        ("stepsize_inc", stepsize_inc, lambda v: v >= 1,
         "a factor of at least 1 that grows the step size (default 1.02)"),
        ("stepsize_dec", stepsize_dec, lambda v: 0 < v <= 1,
         "a factor in (0, 1] that shrinks the step size (default 0.98)"),
        ("avg_acceptance_slowness", avg_acceptance_slowness, lambda v: 0 <= v < 1,
         "in [0, 1): the weight of the old average (default 0.9; 1 would never move it)"),
    ]
    for name, value, good, fix in rules:
        if not number(value) or not good(value):
            raise ValueError(f"{name} must be {fix}, got {value!r}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise ValueError(f"n_steps must be an integer >= 1 (leapfrog steps a move; the tutorial's "
                         f"is 20), got {n_steps!r}")
    seed_state(seed)  # a bad seed fails here, with dltut's message on either engine


class HMC_sampler:
    """A compiled HMC move for a batch of particles: ``draw()`` moves them and returns where.

    ``positions`` is the shared matrix of the particles (one per row), ``stepsize`` and
    ``avg_acceptance_rate`` the shared scalars that adapt (``hmc_stepsize`` and
    ``avg_acceptance_rate``, floatX), ``s_rng`` the MRG streams, ``simulate`` the compiled
    function of no inputs that applies one move's updates.
    """

    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)

    @classmethod
    def new_from_shared_positions(cls, shared_positions, energy_fn, initial_stepsize=0.01,
                                  target_acceptance_rate=0.9, n_steps=20, stepsize_dec=0.98,
                                  stepsize_min=0.001, stepsize_max=0.25, stepsize_inc=1.02,
                                  avg_acceptance_slowness=0.9, seed=12345):
        """A sampler moving the rows of the shared matrix ``shared_positions``.

        ``energy_fn(positions)`` is the symbolic vector of the rows' energies, whose sum must be
        differentiable with respect to the positions. The other settings are the tutorial's
        (those of Marc'Aurelio Ranzato's train_mcRBM.py): ``n_steps`` leapfrog steps a move,
        the step size starting at ``initial_stepsize`` and kept in ``[stepsize_min,
        stepsize_max]``, the acceptance rate averaged with weight ``avg_acceptance_slowness``
        on the old average (it starts at ``target_acceptance_rate``), the streams seeded
        ``seed``.

        On PyTensor the move is compiled for the shape of the batch ``shared_positions`` holds
        now; ``draw()`` refuses another (build a new sampler for it).
        """
        check_hmc_settings(initial_stepsize, target_acceptance_rate, n_steps, stepsize_dec,
                           stepsize_min, stepsize_max, stepsize_inc, avg_acceptance_slowness, seed)
        if getattr(shared_positions, "ndim", None) != 2 or not hasattr(shared_positions,
                                                                       "get_value"):
            raise ValueError(f"shared_positions must be a shared matrix (one particle a row), "
                             f"got {shared_positions!r} of ndim "
                             f"{getattr(shared_positions, 'ndim', None)}")
        stepsize = engine.shared(numpy.asarray(initial_stepsize, dtype=engine.floatX()),
                                 "hmc_stepsize")
        avg_acceptance_rate = engine.shared(
            numpy.asarray(target_acceptance_rate, dtype=engine.floatX()), "avg_acceptance_rate")
        s_rng = RandomStreams(seed, name="hmc")

        positions, shape = shared_positions, None
        if engine.name() == "pytensor":
            # the batch's shape, known when compiling: the draws unroll (and JAX compiles them)
            shape = shared_positions.get_value(borrow=True).shape
            positions = T.specify_shape(shared_positions, shape)
        accept, final_pos = hmc_move(s_rng, positions, energy_fn, stepsize, n_steps)
        simulate_updates = hmc_updates(
            shared_positions, stepsize, avg_acceptance_rate, final_pos=final_pos, accept=accept,
            target_acceptance_rate=target_acceptance_rate, stepsize_inc=stepsize_inc,
            stepsize_dec=stepsize_dec, stepsize_min=stepsize_min, stepsize_max=stepsize_max,
            avg_acceptance_slowness=avg_acceptance_slowness)
        simulate = engine.function([], [], updates=simulate_updates, name="hmc_simulate")
        return cls(positions=shared_positions, stepsize=stepsize, stepsize_min=stepsize_min,
                   stepsize_max=stepsize_max, avg_acceptance_rate=avg_acceptance_rate,
                   target_acceptance_rate=target_acceptance_rate, n_steps=n_steps, s_rng=s_rng,
                   shape=shape, _updates=simulate_updates, simulate=simulate)

    def draw(self, **kwargs):
        """One move; a copy of the new positions (``kwargs`` go to ``get_value``)."""
        shape = self.positions.get_value(borrow=True).shape
        if self.shape is not None and shape != self.shape:
            raise ValueError(f"{self.positions.name}: positions of shape {shape}, but this sampler "
                             f"was compiled for {self.shape}: build a new one with "
                             f"HMC_sampler.new_from_shared_positions")
        self.simulate()
        return self.positions.get_value(**{"borrow": False, **kwargs})


@dataclasses.dataclass
class GaussianRun:
    """What ``sampler_on_nd_gaussian`` sampled, and from what."""

    mu: numpy.ndarray  # the target's mean (dim,)
    cov: numpy.ndarray  # the target's covariance (dim, dim)
    draws: numpy.ndarray  # (burnin + n_samples, 3, dim): every draw, burn-in included
    samples: numpy.ndarray  # (n_samples * 3, dim): the draws after the burn-in, chain by chain
    stepsizes: numpy.ndarray  # the step size after each draw, burn-in included
    acceptance_rates: numpy.ndarray  # the average acceptance rate after each draw
    sampler: HMC_sampler  # the sampler, in its final state


def sampler_on_nd_gaussian(sampler_cls, burnin, n_samples, dim=10):
    """Sample a ``dim``-dimensional Gaussian with 3 chains, as test_hmc.py does.

    From ``RandomState(123)``: the mean (uniform in [0, 10)), a symmetric matrix of uniforms
    with ones on its diagonal as the covariance, then the chains' starting points (standard
    normal). ``sampler_cls(positions, energy_fn, initial_stepsize=1e-3, stepsize_max=0.5)``
    makes the sampler (``HMC_sampler.new_from_shared_positions``), which draws ``burnin``
    times, then ``n_samples`` times more, kept. Logs the target's and the samples' mean and
    covariance and the final step size and acceptance rate, with the tutorial's wording.
    """
    if isinstance(burnin, bool) or not isinstance(burnin, numbers.Integral) or burnin < 0:
        raise ValueError(f"burnin must be an integer >= 0 (draws thrown away), got {burnin!r}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) \
            or n_samples < 2:
        raise ValueError(f"n_samples must be an integer >= 2 (draws kept, to estimate a "
                         f"covariance), got {n_samples!r}")
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    floatX = engine.floatX()
    rng = numpy.random.RandomState(123)
    mu = numpy.array(rng.rand(dim) * 10, dtype=floatX)
    cov = numpy.array(rng.rand(dim, dim), dtype=floatX)
    cov = (cov + cov.T) / 2.0
    cov[numpy.arange(dim), numpy.arange(dim)] = 1.0
    cov_inv = numpy.linalg.inv(cov)

    def gaussian_energy(x):
        """:math:`\\frac{1}{2} (x - \\mu)^T \\Sigma^{-1} (x - \\mu)` of each row of ``x``."""
        return 0.5 * (T.dot((x - mu), cov_inv) * (x - mu)).sum(axis=1)

    position = engine.shared(rng.randn(BATCHSIZE, dim).astype(floatX), "position")
    compile_start = timeit.default_timer()
    sampler = sampler_cls(position, gaussian_energy, initial_stepsize=1e-3, stepsize_max=0.5)
    start_time = timeit.default_timer()
    log.debug("sampler built and compiled in %.3fs", start_time - compile_start)

    draws, stepsizes, acceptance_rates = [], [], []
    for _ in range(burnin + n_samples):
        draws.append(sampler.draw())
        stepsizes.append(sampler.stepsize.get_value().item())
        acceptance_rates.append(sampler.avg_acceptance_rate.get_value().item())
    log.debug("%i draws in %.3fs", burnin + n_samples, timeit.default_timer() - start_time)
    draws = numpy.asarray(draws)
    # (n_samples, batchsize, dim) -> (batchsize * n_samples, dim), chain after chain
    samples = draws[burnin:].T.reshape(dim, -1).T

    log.info("****** TARGET VALUES ******")
    log.info("target mean: %s", mu)
    log.info("target cov:\n%s", cov)
    log.info("****** EMPIRICAL MEAN/COV USING HMC ******")
    log.info("empirical mean:  %s", samples.mean(axis=0))
    log.info("empirical_cov:\n%s", numpy.cov(samples.T))
    log.info("****** HMC INTERNALS ******")
    log.info("final stepsize %s", sampler.stepsize.get_value())
    log.info("final acceptance_rate %s", sampler.avg_acceptance_rate.get_value())
    return GaussianRun(mu, cov, draws, samples, numpy.array(stepsizes),
                       numpy.array(acceptance_rates), sampler)


def test_hmc(burnin=1000, n_samples=1000, dim=5, *, seed=12345, **options):
    """Sample test_hmc.py's 5-dimensional Gaussian: 1,000 draws of burn-in, 1,000 kept.

    ``seed`` seeds the sampler's MRG streams (the tutorial's 12345 by default; the target and
    the chains' starting points stay those of ``RandomState(123)``, the tutorial's problem).
    ``options`` are ``floatX`` and ``mode`` (of ``fitting.Options``). Returns the
    ``GaussianRun``; the tutorial's test then asks for an average acceptance rate within 0.1 of
    the target and a step size within its bounds.
    """
    seed_state(seed)  # a bad seed fails here, before any compiling
    prepare(options, only=RUN_OPTIONS)
    return sampler_on_nd_gaussian(
        functools.partial(HMC_sampler.new_from_shared_positions, seed=seed), burnin=burnin,
        n_samples=n_samples, dim=dim)


test_hmc.__test__ = False  # the tutorial's name, not a pytest test
