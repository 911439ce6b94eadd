"""The RNN-RBM: modeling and generating polyphonic music (the tutorial's rnnrbm.py).

A piano roll is a sequence of binary vectors :math:`v^{(t)}`, the notes sounding at frame
:math:`t`. The RNN-RBM (Boulanger-Lewandowski, Bengio and Vincent, ICML 2012) models each frame
given the ones before it, :math:`\\mathcal A^{(t)} = \\{v^{(\\tau)} | \\tau < t\\}`, with an RBM
whose biases a recurrent network computes from that history:

.. math::
    b_v^{(t)} = b_v + W_{uv} u^{(t-1)}, \\qquad b_h^{(t)} = b_h + W_{uh} u^{(t-1)}

    u^{(t)} = \\tanh(b_u + W_{uu} u^{(t-1)} + W_{vu} v^{(t)}), \\qquad u^{(0)} = 0

    P(\\{v^{(t)}\\}) = \\prod_{t=1}^T P(v^{(t)} | \\mathcal A^{(t)})

where :math:`P(v^{(t)} | \\mathcal A^{(t)})` is the marginal of the :math:`t`-th RBM (weights
:math:`W` shared by all). Training a sequence: the recurrence runs on the data (deterministic: the
:math:`u^{(t)}` need no sampling), then all its frames train their RBMs at once, as a minibatch,
by contrastive divergence (CD-15); the gradient flows into the recurrence through
:math:`b_v^{(t)}, b_h^{(t)}`. Generating: each frame is sampled by a Gibbs chain of 25 steps of
its RBM from zeros, then fed to the recurrence.

``RnnRbm`` builds both and compiles them; ``train`` runs SGD over piano rolls (MIDI files read with
``dltut.midi.midiread``, or arrays), ``generate`` writes a 200-frame sample as MIDI and a picture.
``test_rnnrbm`` trains on the Nottingham folk tunes as the tutorial did, or on piano rolls saved
as an .npz (``save_rolls``, read with no pickle); a few made rolls ship with dltut (``TOY``:
``dltut run rnnrbm --toy`` trains with no download and no MIDI reader).

The draws are the tutorial's: it seeded NumPy's global state with ``0xbeef`` when imported, seeded
Theano's MRG streams with ``numpy.random.randint(1 << 30)``, drew the five weight matrices with
``numpy.random.normal`` and shuffled the training set with ``numpy.random.shuffle`` before each
epoch. Here a ``RandomState(seed)`` made for each model (``seed=0xbeef`` by default) draws the
same numbers in the same order, and the model's ``RandomStreams`` (dltut.random: Theano's
MRG31k3p, bit for bit) draws the same samples.
"""

import dataclasses
import glob
import importlib
import logging
import os
import timeit
import zipfile
from pathlib import Path

import numpy

from dltut import engine, saving
from dltut.atomic import atomic_write, check_output
from dltut.data import DataError
from dltut.engine import T
from dltut.fitting import check_positive_integers, check_seed, prepare
from dltut.midi import check_dt, check_range, midiread, midiwrite
from dltut.plots import check_matplotlib, write_png
from dltut.random import RandomStreams
from dltut.trainer import StopRequest
from dltut.tutorials.mlp import sigmoid

log = logging.getLogger(__name__)

SEED = 0xbeef  # the tutorial's numpy.random.seed
TRAIN_GIBBS_STEPS = 15  # CD-15 on the training frames
GENERATE_GIBBS_STEPS = 25  # Gibbs steps sampling each generated frame
GENERATE_FRAMES = 200  # frames of a generated sequence
PICTURE_CELL = 3  # pixels a side of a frame's note in generate's picture
RUN_OPTIONS = ("floatX", "mode", "checkpoint", "checkpoint_every", "resume",
               "overwrite")  # test_rnnrbm's fitting.Options
NOTTINGHAM = os.path.join("data", "Nottingham")  # where the tutorial's data was unzipped
NOTTINGHAM_URL = "http://www.iro.umontreal.ca/~lisa/deep/data/Nottingham.zip"
NOTTINGHAM_SOURCE = (f"the Nottingham Database of folk tunes as MIDI files, {NOTTINGHAM_URL} "
                     "(the tutorial's data/download.sh fetched it; reading MIDI needs "
                     "pip install 'dltut[midi]')")
# made piano rolls shipped with dltut (package data): toy_rolls() written by save_rolls; the
# tests' and `dltut suite --quick`'s reference costs were printed by the original on them
TOY = Path(__file__).resolve().parent.parent / "toy" / "rolls.npz"
MAX_ROLL_FRAMES = 10_000_000  # frames an .npz of rolls may hold (88 bytes each: under 1 GB)


def _xlogy0(x, y):
    """:math:`x \\log y`, 0 where :math:`x = 0` (Theano's ``T.xlogx.xlogy0``; PyTensor, which
    deprecates that name, has it as ``special.xlogy``)."""
    if engine.name() == "theano":
        return importlib.import_module("theano.tensor.xlogx").xlogy0(x, y)
    return importlib.import_module("pytensor.tensor.special").xlogy(x, y)


def build_rbm(v, W, bv, bh, k, theano_rng):
    """A Gibbs chain of ``k`` steps from ``v`` in an RBM of weights ``W`` and biases ``bv``,
    ``bh``: ``(v_sample, cost, monitor, updates)``.

    ``v`` is a frame (vector) or a minibatch of frames (matrix: that many chains); ``bv`` and ``bh``
    may be matrices too, a row per frame (the RNN-RBM's conditional RBMs). One Gibbs step samples
    :math:`h \\sim P(h | v) = sigm(v W + b_h)` then :math:`v \\sim P(v | h) = sigm(h W^T + b_v)`,
    each a ``theano_rng.binomial`` (two call sites, inside a ``scan`` of ``k`` steps).

    ``v_sample`` is the chain's end. ``cost`` is the CD-k cost, whose gradient (``v_sample`` held
    constant) approximates that of the negative log-likelihood of ``v``, averaged over the rows:

    .. math::
        cost = (F(v) - F(\\tilde v)) / n, \\qquad
        F(v) = -\\sum v b_v - \\sum \\log(1 + e^{v W + b_h})

    ``monitor`` is the cross-entropy of ``v`` and the visible means of one more Gibbs step from
    ``v_sample`` (two more call sites; its hidden sample is drawn), summed and averaged over the
    rows: the tutorial calls it a pseudo log-likelihood. ``updates`` are the scan's (the streams'
    states).
    """

    def gibbs_step(v):
        mean_h = sigmoid(T.dot(v, W) + bh)
        h = theano_rng.binomial(size=mean_h.shape, n=1, p=mean_h, dtype=engine.floatX())
        mean_v = sigmoid(T.dot(h, W.T) + bv)
        v = theano_rng.binomial(size=mean_v.shape, n=1, p=mean_v, dtype=engine.floatX())
        return mean_v, v

    chain, updates = engine.scan(lambda v: gibbs_step(v)[1], outputs_info=[v], n_steps=k,
                                 name="gibbs_step")
    v_sample = chain[-1]

    mean_v = gibbs_step(v_sample)[0]
    monitor = _xlogy0(v, mean_v) + _xlogy0(1 - v, 1 - mean_v)
    monitor = monitor.sum() / v.shape[0]

    def free_energy(v):
        return -(v * bv).sum() - T.log(1 + T.exp(T.dot(v, W) + bh)).sum()

    cost = (free_energy(v) - free_energy(v_sample)) / v.shape[0]
    return v_sample, cost, monitor, updates


def shared_normal(num_rows, num_cols, scale=1, rng=None, name=None):
    """A (num_rows, num_cols) floatX shared matrix of ``rng.normal(scale=scale)`` draws (NumPy's
    global state, as the tutorial, if ``rng`` is None)."""
    rng = numpy.random if rng is None else rng
    return engine.shared(rng.normal(scale=scale, size=(num_rows, num_cols))
                         .astype(engine.floatX()), name, static_shape=True)


def shared_zeros(*shape, name=None):
    """A floatX shared variable of zeros of ``shape``."""
    return engine.shared(numpy.zeros(shape, dtype=engine.floatX()), name, static_shape=True)


# the one mode the RNN-RBM cannot run in, and why (dltut's default JAX mode: it compiles in C)
NOT_IN_JAX = engine.NotIn("the RNN-RBM", "jax", "its training sequences vary in length, and JAX "
                          "needs the size of each random draw fixed", logger=log)


@dataclasses.dataclass
class RnnRbmGraph:
    """What ``build_rnnrbm`` returns (the tutorial's tuple, in its order, when unpacked)."""

    v: object  # a training sequence, one frame per row (symbolic matrix)
    v_sample: object  # the negative particles of CD, held constant in the gradient
    cost: object  # whose gradient, v_sample constant, approximates the log-likelihood's
    monitor: object  # the frames' mean cross-entropy with one more Gibbs step's means
    params: tuple  # W, bv, bh, Wuh, Wuv, Wvu, Wuu, bu
    updates_train: dict  # the random streams' updates of the training graph
    v_t: object  # a generated sequence (GENERATE_FRAMES, n_visible)
    updates_generate: dict  # the random streams' updates of the generation graph

    def __iter__(self):
        return iter((self.v, self.v_sample, self.cost, self.monitor, self.params,
                     self.updates_train, self.v_t, self.updates_generate))


def build_rnnrbm(n_visible, n_hidden, n_hidden_recurrent, rng=None, theano_rng=None):
    """The symbolic RNN-RBM of ``n_visible`` notes, ``n_hidden`` hidden units in each conditional
    RBM and ``n_hidden_recurrent`` in the RNN, with new parameters; an ``RnnRbmGraph``.

    ``W`` (scale 0.01) then ``Wuh``, ``Wuv``, ``Wvu``, ``Wuu`` (scale 0.0001) are drawn by
    ``rng.normal`` in that order (NumPy's global state if ``rng`` is None, as the tutorial); the
    biases start at zero. ``theano_rng`` (a ``RandomStreams``) draws the Gibbs samples.

    Training: a ``scan`` over the frames of ``v`` computes :math:`u^{(t)}` and the biases
    :math:`b_v^{(t)}, b_h^{(t)}` (from :math:`u^{(t-1)}`), then ``build_rbm`` runs CD-15 on all
    frames at once, a row each. Generating: a ``scan`` of 200 steps, each sampling its frame by a
    25-step chain of its RBM from zeros (``build_rbm`` on a vector) before the recurrence.
    """
    if theano_rng is None:
        theano_rng = RandomStreams(SEED)
    W = shared_normal(n_visible, n_hidden, 0.01, rng, "W")
    bv = shared_zeros(n_visible, name="bv")
    bh = shared_zeros(n_hidden, name="bh")
    Wuh = shared_normal(n_hidden_recurrent, n_hidden, 0.0001, rng, "Wuh")
    Wuv = shared_normal(n_hidden_recurrent, n_visible, 0.0001, rng, "Wuv")
    Wvu = shared_normal(n_visible, n_hidden_recurrent, 0.0001, rng, "Wvu")
    Wuu = shared_normal(n_hidden_recurrent, n_hidden_recurrent, 0.0001, rng, "Wuu")
    bu = shared_zeros(n_hidden_recurrent, name="bu")
    params = W, bv, bh, Wuh, Wuv, Wvu, Wuu, bu  # learned parameters as shared variables

    v = engine.matrix("v", shape=(None, n_visible))  # a training sequence, a row a frame
    u0 = T.zeros((n_hidden_recurrent,))  # initial value for the RNN hidden units

    # With v_t given, the deterministic recurrence computing the biases bv_t, bh_t of each step;
    # with v_t None, the same recurrence sampling v_t by a Gibbs chain at each step (generating)
    # and passing it down to the sequence history.
    def recurrence(v_t, u_tm1):
        bv_t = bv + T.dot(u_tm1, Wuv)
        bh_t = bh + T.dot(u_tm1, Wuh)
        generate = v_t is None
        if generate:
            v_t, _, _, updates = build_rbm(T.zeros((n_visible,)), W, bv_t, bh_t,
                                           k=GENERATE_GIBBS_STEPS, theano_rng=theano_rng)
        u_t = T.tanh(bu + T.dot(v_t, Wvu) + T.dot(u_tm1, Wuu))
        return ([v_t, u_t], updates) if generate else [u_t, bv_t, bh_t]

    # Training: the biases of all frames from the recurrence on v, then CD on the frames as a
    # batch of conditional RBMs.
    (u_t, bv_t, bh_t), updates_train = engine.scan(
        lambda v_t, u_tm1, *_: recurrence(v_t, u_tm1),
        sequences=v, outputs_info=[u0, None, None], non_sequences=params, name="recurrence")
    updates_train = dict(updates_train)
    v_sample, cost, monitor, updates_rbm = build_rbm(v, W, bv_t, bh_t, k=TRAIN_GIBBS_STEPS,
                                                     theano_rng=theano_rng)
    updates_train.update(updates_rbm)

    # Generating: the recurrence sampling each frame.
    (v_t, u_t), updates_generate = engine.scan(
        lambda u_tm1, *_: recurrence(None, u_tm1),
        outputs_info=[None, u0], non_sequences=params, n_steps=GENERATE_FRAMES,
        name="generate")
    return RnnRbmGraph(v, v_sample, cost, monitor, params, updates_train, v_t,
                       dict(updates_generate))


class RnnRbm:
    """An RNN-RBM trained on piano rolls by SGD, which generates sample sequences.

    ``n_hidden``: hidden units of the conditional RBMs; ``n_hidden_recurrent``: of the RNN; ``lr``:
    the learning rate; ``r``: the notes, ``r[0]`` included and ``r[1]`` not (``r[1] - r[0]``
    visible units; ``(21, 109)``: the piano's 88 keys); ``dt``: seconds per frame when MIDI files
    are read as piano rolls and generated sequences written. ``seed`` seeds the model's
    ``RandomState``, which seeds the MRG streams (``randint(1 << 30)``), draws the weights and
    shuffles the training set; the default is the tutorial's ``0xbeef``. The training and
    generating functions are compiled here, in the engine's current floatX and mode; where the
    mode is dltut's default, JAX, in the C mode instead (JAX compiles a random draw only when its
    size is a constant, and the training sequences vary in length), and in JAX mode chosen, not
    at all (a ValueError).
    """

    def __init__(self, n_hidden=150, n_hidden_recurrent=100, lr=0.001, r=(21, 109), dt=0.3, *,
                 seed=SEED):
        check_positive_integers(n_hidden=n_hidden, n_hidden_recurrent=n_hidden_recurrent)
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < numpy.inf:
            raise ValueError(f"lr must be a positive learning rate, got {lr!r}")
        self.r = check_range(r)
        self.dt = check_dt(dt)
        self.rng = numpy.random.RandomState(check_seed(seed))
        self.settings = {"n_hidden": n_hidden, "n_hidden_recurrent": n_hidden_recurrent,
                         "lr": lr, "r": list(self.r), "dt": self.dt, "seed": seed}
        with NOT_IN_JAX.compiling() as mode:
            self.mode = mode  # the mode its functions are compiled in
            log.debug("compiling the RNN-RBM in %s mode", self.mode)
            self._compile(n_hidden, n_hidden_recurrent, lr)
        self.costs = []  # the mean monitor of each epoch trained, as logged

    def _compile(self, n_hidden, n_hidden_recurrent, lr):
        # a Python int: as the tutorial's comment says, a long does not do on 32-bit machines
        self.theano_rng = RandomStreams(int(self.rng.randint(1 << 30)), name="rnnrbm")
        graph = build_rnnrbm(self.r[1] - self.r[0], n_hidden, n_hidden_recurrent, self.rng,
                             self.theano_rng)
        self.params = graph.params
        gradient = engine.backend().grad(graph.cost, list(graph.params),
                                         consider_constant=[graph.v_sample])
        updates_train = dict(graph.updates_train)
        updates_train.update((p, p - lr * g) for p, g in zip(graph.params, gradient))
        self.train_function = engine.function([graph.v], graph.monitor,
                                              updates=list(updates_train.items()),
                                              name="train_function")
        self.generate_function = engine.function([], graph.v_t,
                                                 updates=list(graph.updates_generate.items()),
                                                 name="generate_function")

    def piano_rolls(self, files):
        """The training sequences: each of ``files`` read by ``midiread(f, r, dt)``, or taken as
        it is if it is already a piano roll (a (frames, notes) array), as floatX arrays."""
        if isinstance(files, (str, os.PathLike)):
            raise ValueError(f"files must be a list of MIDI files or piano rolls, got the single "
                             f"path {files!r}; use [{files!r}]")
        n_notes = self.r[1] - self.r[0]
        dataset = []
        for i, item in enumerate(files):
            if isinstance(item, (str, os.PathLike)):
                roll = midiread(item, self.r, self.dt).piano_roll
                where = os.fspath(item)
            else:
                roll = numpy.asarray(item)
                where = f"files[{i}]"
            if roll.ndim != 2 or roll.shape[1] != n_notes or len(roll) == 0:
                raise ValueError(f"{where}: a piano roll must be (frames >= 1, {n_notes}) for "
                                 f"r={self.r}, got shape {roll.shape}")
            if not numpy.isin(roll, (0, 1)).all():
                raise ValueError(f"{where}: a piano roll holds 0 and 1 only (the notes off and "
                                 f"on), got values such as {roll[~numpy.isin(roll, (0, 1))][0]!r}")
            dataset.append(roll.astype(engine.floatX()))
        if not dataset:
            raise ValueError("Training set is empty! (did you download the data files?)")
        return dataset

    def train(self, files, batch_size=100, num_epochs=200, *, checkpoint=None,
              checkpoint_every=1, resume=None):
        """Train by SGD on ``files`` (MIDI files or piano rolls, see ``piano_rolls``).

        Each epoch shuffles the sequences (``self.rng.shuffle``, which reorders them anew from the
        last epoch's order), splits each into subsequences of at most ``batch_size`` frames and
        makes one update per subsequence, then logs ``Epoch i/n`` and the mean of the updates'
        monitors. Ctrl+C (or SIGTERM) stops after the update under way (``Interrupted by
        user.``), the model kept as it is. Returns the mean monitor of each epoch run (also
        appended to ``self.costs``).

        ``checkpoint``: a file written every ``checkpoint_every`` epochs and after the last (the
        parameters, the random streams, the RandomState, the sequences' order and the costs);
        ``resume``: such a file, written by a model of the same settings trained on the same
        files with the same ``batch_size``, from which training goes on as the unbroken run.
        """
        check_positive_integers(batch_size=batch_size, num_epochs=num_epochs,
                                checkpoint_every=checkpoint_every)
        if checkpoint:
            check_output(checkpoint, "checkpoint")
        dataset = self.piano_rolls(files)
        order = list(range(len(dataset)))  # shuffled as the tutorial shuffled the list itself
        epoch_costs = []
        first = 0
        if resume is not None:
            order, epoch_costs = self._resume(resume, batch_size, len(dataset))
            first = len(epoch_costs)
            log.info("... resuming from %s (%i epochs)", resume, first)
        # a failed write is a warning naming the file: training goes on (saving.CheckpointWriter)
        write_checkpoint = saving.CheckpointWriter(checkpoint, self._save)
        start_time = timeit.default_timer()
        with StopRequest() as stop:
            for epoch in range(first, num_epochs):
                self.rng.shuffle(order)
                costs = []
                for index in order:
                    sequence = dataset[index]
                    for i in range(0, len(sequence), batch_size):
                        costs.append(self.train_function(sequence[i:i + batch_size]))
                        if stop():
                            log.info("Interrupted by user.")
                            return epoch_costs
                mean = numpy.mean(costs)
                log.info("Epoch %i/%i", epoch + 1, num_epochs)
                log.info("%s", mean)
                epoch_costs.append(float(mean))
                self.costs.append(float(mean))
                if checkpoint and ((epoch + 1) % checkpoint_every == 0 or epoch + 1 == num_epochs):
                    write_checkpoint(checkpoint, batch_size, order, epoch_costs)
        log.debug("trained %i epochs in %.3fs", num_epochs - first,
                  timeit.default_timer() - start_time)
        return epoch_costs

    def _run_settings(self, batch_size, n_sequences):
        return {**self.settings, "batch_size": batch_size, "n_sequences": n_sequences,
                "engine": engine.name(), "floatX": engine.floatX()}

    def _save(self, path, batch_size, order, costs):
        """The checkpoint ``path`` (``saving.save_run``): the parameters, the random streams'
        states, the RandomState, the sequences' order and each epoch's mean monitor."""
        saving.save_run(path, "rnnrbm", self._run_settings(batch_size, len(order)),
                        saving.by_name(self.params), rng=self.rng.get_state(),
                        counters={"costs": costs, "order": list(order)},
                        arrays=self.theano_rng.state())

    def _resume(self, path, batch_size, n_sequences):
        """Set the model's state from the checkpoint ``path``; ``(order, costs)``. What the file
        holds is checked first (``saving.read_run``, a ModelFileError naming it): its settings are
        this run's, its arrays those of this model."""
        counters = {
            "costs": (lambda costs: isinstance(costs, list) and all(map(saving.is_number, costs)),
                      "a list of each epoch's mean monitor"),
            "order": (lambda order: isinstance(order, list) and all(map(saving.is_index, order))
                      and sorted(order) == list(range(n_sequences)),
                      f"an order of the {n_sequences} sequences")}
        saved = saving.read_run(path, "rnnrbm", self._run_settings(batch_size, n_sequences),
                                counters, rng=True, state=False)
        saved.restore(saving.by_name(self.params), rng=self.rng,
                      arrays=self.theano_rng.state())
        self.theano_rng.set_state(saved.other)
        self.costs = [float(c) for c in saved.run["costs"]]
        return saved.run["order"], [float(c) for c in saved.run["costs"]]

    def generate(self, filename, show=True):
        """Sample a sequence of 200 frames, write it as the MIDI file ``filename`` (frames of
        ``dt``) and its piano roll as a greyscale PNG beside it (``filename`` with ``.png``: a
        column per frame, a row per note, the highest at the top, notes on black, each cell
        ``PICTURE_CELL`` pixels square); with ``show``, also draw it in a pyplot figure as the
        tutorial did with ``pylab`` (needs matplotlib; ``pyplot.show()`` shows it). Returns the
        sampled piano roll (frames x notes)."""
        piano_roll = numpy.asarray(self.generate_function())
        midiwrite(filename, piano_roll, self.r, self.dt)
        write_png(os.path.splitext(os.fspath(filename))[0] + ".png",
                  piano_roll_picture(piano_roll))
        if show:
            check_matplotlib("RnnRbm.generate(show=True)")
            from matplotlib import pyplot

            plot_piano_roll(piano_roll, self.r, self.dt, pyplot.figure().add_subplot())
        return piano_roll


def piano_roll_picture(piano_roll, cell=None):
    """A piano roll as ``uint8`` grey pixels for ``write_png``: time across, the highest note
    at the top, notes on black (0) on white (255), each cell ``cell`` x ``cell`` pixels
    (``PICTURE_CELL`` by default)."""
    cell = PICTURE_CELL if cell is None else cell
    on = numpy.asarray(piano_roll).T[::-1] != 0
    pixels = numpy.where(on, 0, 255).astype(numpy.uint8)
    return numpy.repeat(numpy.repeat(pixels, cell, axis=0), cell, axis=1)


def plot_piano_roll(piano_roll, r, dt, ax):
    """Draw ``piano_roll`` on the matplotlib axes ``ax`` as the tutorial did: time (s) across,
    MIDI note numbers up, notes on dark."""
    extent = (0, dt * len(piano_roll)) + tuple(r)
    ax.imshow(numpy.asarray(piano_roll).T, origin="lower", aspect="auto",
              interpolation="nearest", cmap="gray_r", extent=extent)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MIDI note number")
    ax.set_title("generated piano-roll")


def test_rnnrbm(batch_size=100, num_epochs=200, data_dir=NOTTINGHAM,
                samples=("sample1.mid", "sample2.mid"), *, n_hidden=150, n_hidden_recurrent=100,
                seed=SEED, toy=False, **options):
    """Train an ``RnnRbm(n_hidden, n_hidden_recurrent)`` (the tutorial's sizes by default) on the
    MIDI files ``data_dir/train/*.mid`` (the Nottingham tunes, in sorted order; the tutorial took
    glob's order), or on the piano rolls of ``data_dir`` if it is an .npz (``save_rolls``), or
    with ``toy`` on the made rolls shipped with dltut (``TOY``), then generate one sequence into each of
    ``samples`` (the tutorial's script wrote ``sample1.mid`` and ``sample2.mid``; their pictures
    go beside them). ``options`` are ``floatX``, ``mode``, ``checkpoint``, ``checkpoint_every``,
    ``resume`` (see ``RnnRbm.train``) and ``overwrite`` (a run not resumed refuses to replace
    an existing checkpoint file otherwise). Returns the model (``model.costs``: each epoch's mean
    monitor)."""
    check_seed(seed)
    options = prepare(options, only=RUN_OPTIONS)  # floatX and mode, set for the process
    check_positive_integers(batch_size=batch_size, num_epochs=num_epochs,
                            checkpoint_every=options.checkpoint_every, n_hidden=n_hidden,
                            n_hidden_recurrent=n_hidden_recurrent)
    if isinstance(samples, (str, os.PathLike)):
        raise ValueError(f"samples must be a list of MIDI file names, got the single path "
                         f"{samples!r}; use [{samples!r}]")
    if toy and os.fspath(data_dir) != NOTTINGHAM:
        raise ValueError(f"toy trains on the made rolls shipped with dltut ({TOY}): give no "
                         f"data_dir (--data-dir), or leave out toy (--toy) to read {data_dir}")
    if toy or os.fspath(data_dir).endswith(".npz"):
        files = read_rolls(TOY if toy else data_dir)
    else:
        files = sorted(glob.glob(os.path.join(glob.escape(os.fspath(data_dir)), "train",
                                              "*.mid")))
    if not files:
        raise ValueError(f"{os.path.join(data_dir, 'train')}: no *.mid files. The tutorial "
                         f"trained on {NOTTINGHAM_SOURCE}; unzip it so that "
                         f"{os.path.join(data_dir, 'train', '*.mid')} exist (or give data_dir, "
                         "--data-dir: a folder with a train/ folder of MIDI files, or an .npz "
                         "of piano rolls; --toy: the made rolls shipped with dltut)")
    for sample in samples:  # the MIDI file and its picture, written after training
        check_output(sample, "--samples")
        check_output(os.path.splitext(os.fspath(sample))[0] + ".png", "--samples (its picture)")
    model = RnnRbm(n_hidden, n_hidden_recurrent, seed=seed)
    model.train(files, batch_size=batch_size, num_epochs=num_epochs,
                checkpoint=options.checkpoint, checkpoint_every=options.checkpoint_every,
                resume=options.resume)
    for sample in samples:
        model.generate(sample, show=False)
    return model


test_rnnrbm.__test__ = False  # the tutorial's name, not a pytest test


# ----------------------------------------------------------------------------------------------
# Piano rolls as an .npz (no pickle, no MIDI reader) and the made ones shipped as TOY


def toy_rolls(seed=7, lengths=(25, 13, 31), n_notes=88):
    """Made binary piano rolls of ``lengths`` frames, one note in ten on (``RandomState(seed)``:
    the defaults made ``TOY``, on which the original rnnrbm.py printed the tests' costs)."""
    rng = numpy.random.RandomState(seed)
    return [(rng.uniform(size=(n, n_notes)) < 0.1).astype("float64") for n in lengths]


def save_rolls(path, rolls):
    """Write piano rolls (binary (frames, notes) arrays, the same notes each) as an .npz that
    ``read_rolls`` reads: ``frames`` (all the rolls' frames, uint8) and ``lengths``."""
    rolls = [numpy.asarray(roll) for roll in rolls]
    if not rolls or any(roll.ndim != 2 or roll.shape[1] != rolls[0].shape[1] or not len(roll)
                        or not numpy.isin(roll, (0, 1)).all() for roll in rolls):
        raise ValueError("save_rolls takes binary (frames >= 1, notes) arrays, the same notes "
                         "each")
    frames = numpy.concatenate(rolls).astype(numpy.uint8)
    lengths = numpy.array([len(roll) for roll in rolls], dtype="int64")
    atomic_write(path, lambda file: numpy.savez_compressed(file, frames=frames, lengths=lengths))
    return path


def read_rolls(path):
    """The piano rolls of an .npz written by ``save_rolls``, as float64 arrays; one
    ``DataError`` naming the file for anything else (read with no pickle, sizes checked before
    the frames are)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file; an .npz of piano rolls is written by "
                        "dltut.tutorials.rnnrbm.save_rolls")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a zip archive, so not an .npz of piano rolls (save_rolls)")
    try:
        with zipfile.ZipFile(path) as archive, archive.open("frames.npy") as stream:
            shape = saving.read_npy_header(stream)[1]
        if shape is None or len(shape) != 2 or shape[0] > MAX_ROLL_FRAMES or shape[1] > 128:
            raise DataError(f"{path}: frames of shape {shape!r:.60}, not (at most "
                            f"{MAX_ROLL_FRAMES} frames, at most 128 notes); write it again "
                            "with save_rolls")
        with numpy.load(path, allow_pickle=False) as npz:
            if sorted(npz.files) != ["frames", "lengths"]:
                raise DataError(f"{path}: arrays {sorted(npz.files)!r:.80}; an .npz of piano "
                                "rolls holds frames and lengths (save_rolls)")
            lengths = npz["lengths"]
            if lengths.dtype.kind not in "iu" or lengths.ndim != 1 or not len(lengths) \
                    or (lengths < 1).any() or lengths.sum() > MAX_ROLL_FRAMES:
                raise DataError(f"{path}: lengths {lengths.dtype} {lengths.shape} is not a list "
                                f"of 1 to {MAX_ROLL_FRAMES} frames in all; write it again "
                                "with save_rolls")
            frames = npz["frames"]
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path}: not a readable .npz of piano rolls ({error}); write it again "
                        "with save_rolls") from error
    if frames.ndim != 2 or len(frames) != lengths.sum() or frames.dtype.kind not in "biuf" \
            or not numpy.isin(frames, (0, 1)).all():
        raise DataError(f"{path}: frames {frames.dtype} {frames.shape} are not "
                        f"{int(lengths.sum())} rows of notes off and on (0 and 1); write it "
                        "again with save_rolls")
    return numpy.split(frames.astype("float64"), numpy.cumsum(lengths)[:-1])
