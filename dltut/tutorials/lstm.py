"""An LSTM sentiment classifier for IMDB movie reviews (the tutorial's lstm.py).

A review is a sequence of word indices. Each word is embedded (``Wemb``), an LSTM reads the
embeddings in order, its hidden states are averaged over the review's words (mean pooling over
the mask), and a logistic regression on that mean (``U``, ``b``) says positive or negative.

At step :math:`t`, with :math:`x_t` the word's embedding and :math:`h_{t-1}`, :math:`c_{t-1}` the
previous hidden and cell states, the four gates are slices of one product (``_slice``):

.. math::
    i_t = \\sigma(W_i x_t + U_i h_{t-1} + b_i), \\quad
    f_t = \\sigma(W_f x_t + U_f h_{t-1} + b_f), \\quad
    o_t = \\sigma(W_o x_t + U_o h_{t-1} + b_o)

    \\tilde c_t = \\tanh(W_c x_t + U_c h_{t-1} + b_c), \\quad
    c_t = f_t c_{t-1} + i_t \\tilde c_t, \\quad h_t = o_t \\tanh(c_t)

where the mask is 0 (padding after a review's end), :math:`c_t` and :math:`h_t` keep their
previous values. The names (``param_init_lstm``, ``lstm_layer``, ``build_model``, ``adadelta``,
``pred_error``, ``train_lstm``, the ``_p`` parameter names ``lstm_W``...), the defaults, the random
draws (NumPy seeded 123 for the weights and the shuffles, Theano's MRG streams seeded 123 for
dropout) and the printed lines are the tutorial's; the training loop is dltut's trainer with the
tutorial's stopping rule (``trainer.ValidationPatience``). What is not the tutorial lives below it:
the run's bookkeeping and the errors counted faster in ``dltut.sequences``, the checkpoints in
``dltut.saving``, the settings' checks in ``dltut.fitting``.
"""

import dataclasses
import json
import logging
import math
import os
import timeit
from collections import OrderedDict

import numpy

from dltut import engine, fitting, saving
from dltut.atomic import atomic_write
from dltut.engine import T
from dltut.fitting import flag
from dltut.random import RandomStreams
from dltut.sequences import CompilesAhead, ErrorCounter, Training
from dltut import trainer
from dltut.trainer import Diverged, StopRequest, TrainState, ValidationPatience
from dltut.tutorials import imdb
from dltut.tutorials.mlp import sigmoid

log = logging.getLogger(__name__)

# the data sets by name, each read and padded by imdb's functions: "imdb" from data_path
# (imdb.pkl by default), "toy" the made reviews shipped with dltut (imdb.TOY) unless data_path
datasets = {"imdb": (imdb.load_data, imdb.prepare_data), "toy": (imdb.load_data, imdb.prepare_data)}
DATA_PATHS = {"imdb": "imdb.pkl", "toy": imdb.TOY}  # where each data set is read from by default

# The seed of NumPy's draws (weights, validation split, shuffles) and of the dropout streams.
SEED = 123


def numpy_floatX(data):
    return numpy.asarray(data, dtype=engine.floatX())


def get_minibatches_idx(n, minibatch_size, shuffle=False, rng=None):
    """``[(0, indices), (1, indices), ...]``: ``range(n)`` (shuffled by ``rng``, numpy's global
    state by default) cut into minibatches of ``minibatch_size``, the last one what is left.

    A list, as Python 2's ``zip`` made it: the tutorial walks one such list twice in an epoch
    (training, then the training error at a validation).
    """
    idx_list = numpy.arange(n, dtype="int32")
    if shuffle:
        (numpy.random if rng is None else rng).shuffle(idx_list)
    minibatches = [idx_list[start:start + minibatch_size]
                   for start in range(0, n - n % minibatch_size, minibatch_size)]
    if n % minibatch_size:  # a minibatch of what is left
        minibatches.append(idx_list[n - n % minibatch_size:])
    return list(enumerate(minibatches))


def get_dataset(name):
    if name not in datasets:
        raise ValueError(f"dataset {name!r}: the LSTM tutorial knows {sorted(datasets)}")
    return datasets[name][0], datasets[name][1]


def zipp(params, tparams):
    """Set the shared variables ``tparams`` to the values ``params`` (reloading a model)."""
    for kk, vv in params.items():
        tparams[kk].set_value(vv)


def unzip(zipped):
    """The values of the shared variables ``zipped``, as a new OrderedDict of NumPy arrays (in
    JAX mode the variables hold JAX's arrays)."""
    return OrderedDict((kk, numpy.asarray(vv.get_value())) for kk, vv in zipped.items())


def dropout_layer(state_before, use_noise, trng):
    """Dropout: while ``use_noise`` is 1, each unit is kept with probability 0.5 (a mask drawn by
    ``trng``); while 0, every unit is halved, the mean of the kept values."""
    return T.switch(use_noise,
                    state_before * trng.binomial(state_before.shape, p=0.5, n=1,
                                                 dtype=state_before.dtype),
                    state_before * 0.5)


def _p(pp, name):
    return "%s_%s" % (pp, name)


def init_params(options, rng=None):
    """The embedding ``Wemb`` (uniform in [0, 0.01)), the encoder's parameters and the
    classifier's ``U`` (normal, std 0.01) and ``b`` (zeros), drawn in this order from ``rng``
    (numpy's global state by default, as the tutorial)."""
    rng = numpy.random if rng is None else rng
    params = OrderedDict()
    randn = rng.rand(options["n_words"], options["dim_proj"])
    params["Wemb"] = (0.01 * randn).astype(engine.floatX())
    params = get_layer(options["encoder"])[0](options, params, prefix=options["encoder"],
                                              rng=rng)
    params["U"] = 0.01 * rng.randn(options["dim_proj"], options["ydim"]).astype(engine.floatX())
    params["b"] = numpy.zeros((options["ydim"],)).astype(engine.floatX())
    return params


def load_params(path, params):
    """Set each of ``params`` to the array of its name in the .npz ``path``, each checked to have
    the parameter's shape before it is read (``saving.read_arrays_like``)."""
    pp = saving.read_arrays_like(path, params, "give a model that train_lstm saved (saveto), "
                                               "with the same dim_proj and n_words")
    for kk, vv in params.items():
        params[kk] = pp[kk]
    return params


def init_tparams(params):
    """A named shared variable per parameter (copies of the arrays)."""
    return OrderedDict((kk, engine.shared(pp, kk, borrow=False)) for kk, pp in params.items())


def get_layer(name):
    if name not in layers:
        raise ValueError(f"encoder {name!r}: the tutorial has {sorted(layers)}")
    return layers[name]


def ortho_weight(ndim, rng=None):
    """An orthogonal ``(ndim, ndim)`` matrix: the left singular vectors of a normal draw."""
    W = (numpy.random if rng is None else rng).randn(ndim, ndim)
    u, s, v = numpy.linalg.svd(W)
    return u.astype(engine.floatX())


def param_init_lstm(options, params, prefix="lstm", rng=None):
    """The LSTM's ``W`` (input to the four gates), ``U`` (hidden to the four gates), each four
    orthogonal blocks side by side, and ``b`` (zeros)."""
    dim = options["dim_proj"]
    W = numpy.concatenate([ortho_weight(dim, rng) for _ in range(4)], axis=1)
    params[_p(prefix, "W")] = W
    U = numpy.concatenate([ortho_weight(dim, rng) for _ in range(4)], axis=1)
    params[_p(prefix, "U")] = U
    b = numpy.zeros((4 * dim,))
    params[_p(prefix, "b")] = b.astype(engine.floatX())
    return params


def lstm_layer(tparams, state_below, options, prefix="lstm", mask=None):
    """The hidden states ``(n_timesteps, n_samples, dim_proj)`` of the LSTM over ``state_below``
    (the embeddings, time first), one ``scan`` step per word; ``mask`` keeps padded steps from
    changing the states."""
    nsteps = state_below.shape[0]
    n_samples = state_below.shape[1] if state_below.ndim == 3 else 1
    if mask is None:
        raise ValueError("lstm_layer needs the mask of the padded reviews (prepare_data's x_mask)")

    def _slice(_x, n, dim):
        if _x.ndim == 3:
            return _x[:, :, n * dim:(n + 1) * dim]
        return _x[:, n * dim:(n + 1) * dim]

    def _step(m_, x_, h_, c_):
        preact = T.dot(h_, tparams[_p(prefix, "U")])
        preact += x_

        i = sigmoid(_slice(preact, 0, options["dim_proj"]))
        f = sigmoid(_slice(preact, 1, options["dim_proj"]))
        o = sigmoid(_slice(preact, 2, options["dim_proj"]))
        c = T.tanh(_slice(preact, 3, options["dim_proj"]))

        c = f * c_ + i * c
        c = m_[:, None] * c + (1.0 - m_)[:, None] * c_

        h = o * T.tanh(c)
        h = m_[:, None] * h + (1.0 - m_)[:, None] * h_

        return h, c

    # the input's share of the four gates, for all steps at once
    state_below = T.dot(state_below, tparams[_p(prefix, "W")]) + tparams[_p(prefix, "b")]

    dim_proj = options["dim_proj"]
    rval, updates = engine.scan(_step,
                                sequences=[mask, state_below],
                                outputs_info=[T.alloc(numpy_floatX(0.0), n_samples, dim_proj),
                                              T.alloc(numpy_floatX(0.0), n_samples, dim_proj)],
                                name=_p(prefix, "_layers"),
                                n_steps=nsteps)
    return rval[0]


layers = {"lstm": (param_init_lstm, lstm_layer)}


# ----------------------------------------------------------------------------------------------
# The optimizers: f_grad_shared(x, mask, y) computes the cost and keeps the gradients (and their
# running averages) in shared variables; f_update(lr) then moves the parameters.


def sgd(lr, tparams, grads, x, mask, y, cost):
    """Stochastic gradient descent, in the two functions of the other optimizers:
    ``param := param - lr * gradient``."""
    gshared = [engine.shared(p.get_value() * 0.0, "%s_grad" % k) for k, p in tparams.items()]
    gsup = list(zip(gshared, grads))
    f_grad_shared = engine.function([x, mask, y], cost, updates=gsup, name="sgd_f_grad_shared",
                                    pad_time=True)
    pup = [(p, p - lr * g) for p, g in zip(tparams.values(), gshared)]
    f_update = engine.function([lr], [], updates=pup, name="sgd_f_update")
    return f_grad_shared, f_update


def adadelta(lr, tparams, grads, x, mask, y, cost):
    """ADADELTA (Zeiler, 2012, arXiv:1212.5701); ``lr`` is not used.

    .. math::
        E[g^2] := 0.95 E[g^2] + 0.05 g^2, \\quad
        \\Delta = -\\frac{\\sqrt{E[\\Delta^2] + 10^{-6}}}{\\sqrt{E[g^2] + 10^{-6}}} g

        E[\\Delta^2] := 0.95 E[\\Delta^2] + 0.05 \\Delta^2, \\quad param := param + \\Delta
    """
    zipped_grads = [engine.shared(p.get_value() * numpy_floatX(0.0), "%s_grad" % k)
                    for k, p in tparams.items()]
    running_up2 = [engine.shared(p.get_value() * numpy_floatX(0.0), "%s_rup2" % k)
                   for k, p in tparams.items()]
    running_grads2 = [engine.shared(p.get_value() * numpy_floatX(0.0), "%s_rgrad2" % k)
                      for k, p in tparams.items()]

    zgup = list(zip(zipped_grads, grads))
    rg2up = [(rg2, 0.95 * rg2 + 0.05 * (g ** 2)) for rg2, g in zip(running_grads2, grads)]
    f_grad_shared = engine.function([x, mask, y], cost, updates=zgup + rg2up,
                                    name="adadelta_f_grad_shared", pad_time=True)

    updir = [-T.sqrt(ru2 + 1e-6) / T.sqrt(rg2 + 1e-6) * zg
             for zg, ru2, rg2 in zip(zipped_grads, running_up2, running_grads2)]
    ru2up = [(ru2, 0.95 * ru2 + 0.05 * (ud ** 2)) for ru2, ud in zip(running_up2, updir)]
    param_up = [(p, p + ud) for p, ud in zip(tparams.values(), updir)]
    f_update = engine.function([lr], [], updates=ru2up + param_up, name="adadelta_f_update")
    return f_grad_shared, f_update


def rmsprop(lr, tparams, grads, x, mask, y, cost):
    """RMSprop with momentum (Hinton, lecture 6a; Graves' variant); ``lr`` is not used.

    .. math::
        E[g] := 0.95 E[g] + 0.05 g, \\quad E[g^2] := 0.95 E[g^2] + 0.05 g^2

        \\Delta := 0.9 \\Delta - 10^{-4} \\frac{g}{\\sqrt{E[g^2] - E[g]^2 + 10^{-4}}}, \\quad
        param := param + \\Delta
    """
    zipped_grads = [engine.shared(p.get_value() * numpy_floatX(0.0), "%s_grad" % k)
                    for k, p in tparams.items()]
    running_grads = [engine.shared(p.get_value() * numpy_floatX(0.0), "%s_rgrad" % k)
                     for k, p in tparams.items()]
    running_grads2 = [engine.shared(p.get_value() * numpy_floatX(0.0), "%s_rgrad2" % k)
                      for k, p in tparams.items()]

    zgup = list(zip(zipped_grads, grads))
    rgup = [(rg, 0.95 * rg + 0.05 * g) for rg, g in zip(running_grads, grads)]
    rg2up = [(rg2, 0.95 * rg2 + 0.05 * (g ** 2)) for rg2, g in zip(running_grads2, grads)]
    f_grad_shared = engine.function([x, mask, y], cost, updates=zgup + rgup + rg2up,
                                    name="rmsprop_f_grad_shared", pad_time=True)

    updir = [engine.shared(p.get_value() * numpy_floatX(0.0), "%s_updir" % k)
             for k, p in tparams.items()]
    updir_new = [(ud, 0.9 * ud - 1e-4 * zg / T.sqrt(rg2 - rg ** 2 + 1e-4))
                 for ud, zg, rg, rg2 in zip(updir, zipped_grads, running_grads, running_grads2)]
    param_up = [(p, p + udn[1]) for p, udn in zip(tparams.values(), updir_new)]
    f_update = engine.function([lr], [], updates=updir_new + param_up, name="rmsprop_f_update")
    return f_grad_shared, f_update


OPTIMIZERS = {"sgd": sgd, "adadelta": adadelta, "rmsprop": rmsprop}


def build_model(tparams, options):
    """The classifier's graph: ``(use_noise, x, mask, y, f_pred_prob, f_pred, cost)``.

    ``x`` (int64) and ``mask`` are ``(n_timesteps, n_samples)`` as ``prepare_data`` makes them;
    the cost is the mean of :math:`-\\log(P(y|x) + 10^{-8})` over the minibatch.
    """
    trng = RandomStreams(SEED, name="mrg_dropout")

    # 1 while training (dropout draws a mask), 0 when predicting
    use_noise = engine.shared(numpy_floatX(0.0), "use_noise")

    x = T.matrix("x", dtype="int64")
    mask = T.matrix("mask", dtype=engine.floatX())
    y = T.vector("y", dtype="int64")

    pred = _probabilities(tparams, options, x, mask,
                          lambda proj: dropout_layer(proj, use_noise, trng))

    f_pred_prob = engine.function([x, mask], pred, name="f_pred_prob", pad_time=True)
    f_pred = engine.function([x, mask], pred.argmax(axis=1), name="f_pred", pad_time=True)

    off = 1e-6 if pred.dtype == "float16" else 1e-8
    cost = -T.log(pred[T.arange(x.shape[1]), y] + off).mean()

    return use_noise, x, mask, y, f_pred_prob, f_pred, cost


def _probabilities(tparams, options, x, mask, dropout):
    """The class probabilities of the reviews ``x``, ``mask``; ``dropout`` maps the pooled
    hidden states (when the options use dropout)."""
    n_timesteps = x.shape[0]
    n_samples = x.shape[1]

    emb = tparams["Wemb"][x.flatten()].reshape([n_timesteps, n_samples, options["dim_proj"]])
    proj = get_layer(options["encoder"])[1](tparams, emb, options, prefix=options["encoder"],
                                            mask=mask)
    if options["encoder"] == "lstm":  # mean pooling over each review's words
        proj = (proj * mask[:, :, None]).sum(axis=0)
        proj = proj / mask.sum(axis=0)[:, None]
    if options["use_dropout"]:
        proj = dropout(proj)

    return engine.softmax(T.dot(proj, tparams["U"]) + tparams["b"])


def build_predictor(tparams, options):
    """``f_pred`` with no dropout draw, as ``use_noise`` 0 computes it (every unit halved):
    ``ErrorCounter`` classifies with it."""
    x = T.matrix("x", dtype="int64")
    mask = T.matrix("mask", dtype=engine.floatX())
    pred = _probabilities(tparams, options, x, mask, lambda proj: proj * 0.5)
    return engine.function([x, mask], pred.argmax(axis=1), name="f_pred_sorted", pad_time=True)


def pred_probs(f_pred_prob, prepare_data, data, iterator, verbose=False):
    """The class probabilities ``(n_samples, 2)`` of the reviews ``data``, minibatch by minibatch
    as ``iterator`` (``get_minibatches_idx``) cuts them."""
    n_samples = len(data[0])
    probs = numpy.zeros((n_samples, 2)).astype(engine.floatX())
    n_done = 0
    for _, valid_index in iterator:
        x, mask, y = prepare_data([data[0][t] for t in valid_index],
                                  numpy.array(data[1])[valid_index], maxlen=None)
        probs[valid_index, :] = f_pred_prob(x, mask)
        n_done += len(valid_index)
        if verbose:
            log.info("%d/%d samples classified", n_done, n_samples)
    return probs


def pred_error(f_pred, prepare_data, data, iterator, verbose=False):
    """The fraction of the reviews ``data`` that ``f_pred`` classifies wrongly."""
    valid_err = 0
    for _, valid_index in iterator:
        x, mask, y = prepare_data([data[0][t] for t in valid_index],
                                  numpy.array(data[1])[valid_index], maxlen=None)
        preds = f_pred(x, mask)
        targets = numpy.array(data[1])[valid_index]
        valid_err += (preds == targets).sum()
    return 1.0 - numpy_floatX(valid_err) / len(data[0])


# ----------------------------------------------------------------------------------------------
# Training


@dataclasses.dataclass
class LSTMResult:
    """What ``train_lstm`` returns: the best model's errors (unpacks as the tutorial's
    ``train_err, valid_err, test_err``) and the trainer's ``TrainResult``."""

    train_err: float
    valid_err: float
    test_err: float
    result: object = None  # the trainer's TrainResult (history, costs...)
    params: OrderedDict = None  # the best model's parameter values

    def __iter__(self):
        return iter((self.train_err, self.valid_err, self.test_err))


class _Training(Training):
    """The LSTM's minibatch step as the trainer drives it (``sequences.Training`` does the rest:
    each epoch's shuffle, the three errors of a validation, the checkpoint): one update per call
    of ``train_minibatches`` (a new shuffle at each epoch's first minibatch), the tutorial's
    ``Epoch``/``Update``/``Cost``, ``Saving...`` and ``Seen`` lines."""

    def __init__(self, f_grad_shared, f_update, counter, prepare_data, tparams, use_noise, train,
                 valid, test, options, rng):
        super().__init__(f_grad_shared, counter, tparams, use_noise, (train, valid, test),
                         options["batch_size"], options["valid_batch_size"], rng,
                         get_minibatches_idx)
        self.f_update, self.prepare_data, self.options = f_update, prepare_data, options

    def end_epoch(self):
        """The tutorial's line at the end of an epoch (also of one cut short)."""
        if self.kf is not None:
            log.info("Seen %d samples", self.n_samples)

    def train_minibatches(self, first, count):
        costs = []
        for index in range(first, first + count):
            if index == 0:
                self.end_epoch()
                self.start_epoch()
            self.uidx += 1
            self.use_noise.set_value(numpy_floatX(1.0))
            train_index = self.kf[index][1]
            y = [self.train[1][t] for t in train_index]
            x = [self.train[0][t] for t in train_index]
            x, mask, y = self.prepare_data(x, y)  # (maxlen, n samples): the axes swapped
            self.n_samples += x.shape[1]
            cost = self.f_grad_shared(x, mask, y)
            self.f_update(self.options["lrate"])
            costs.append(float(cost))
            if not math.isfinite(costs[-1]):
                return costs  # the trainer stops: "bad cost detected"
            if self.uidx % self.options["dispFreq"] == 0:
                log.info("Epoch  %d Update  %d Cost  %s", self.eidx, self.uidx, costs[-1])
            if self.options["saveto"] and self.uidx % self.options["saveFreq"] == 0:
                log.info("Saving...")
                save_model(self.options["saveto"], self.best_params(), self.options,
                           history_errs=_history_errs(self.state))
                log.info("Done")
        return costs


def _history_errs(state):
    """The tutorial's ``history_errs``: ``[valid_err, test_err]`` of each validation."""
    if state is None or not state.history:
        return numpy.zeros((0, 2))
    return numpy.array([[v.validation_loss, v.test_score] for v in state.history])


def save_model(path, params, options, **arrays):
    """The parameters (``Wemb``, ``lstm_W``, ...) and ``arrays`` as the .npz ``path``, and the
    model options as the JSON ``path + '.json'`` (the tutorial pickled them to ``path + '.pkl'``);
    each written atomically."""
    atomic_write(path, lambda file: numpy.savez(file, **arrays, **params))
    text = json.dumps(saving.jsonable(options), indent=1, sort_keys=True).encode()
    atomic_write(f"{path}.json", lambda file: file.write(text))


def check_settings(**settings):
    """Refuse, with a ValueError naming the argument, its flag and its value, a setting of
    ``train_lstm`` the tutorial cannot run with (``fitting.LSTM_SETTINGS``: counts are positive
    integers, ``validFreq`` and ``saveFreq`` may be -1: each epoch; ``maxlen`` 0 or None: no
    limit; the rates finite, and finite in floatX as the graph takes them)."""
    rules = dict(fitting.LSTM_SETTINGS, encoder=fitting.one_of(layers),
                 dataset=fitting.one_of(datasets))
    fitting.check_settings(rules, settings, floats=fitting.LSTM_FLOATS)


def train_lstm(
    dim_proj=128,  # word embedding dimension and LSTM number of hidden units
    patience=10,  # validations without progress before an early stop
    max_epochs=5000,  # the maximum number of epochs to run
    dispFreq=10,  # print the training cost every N updates
    decay_c=0.0,  # weight decay for the classifier's U weights
    lrate=0.0001,  # learning rate for sgd (not used by adadelta and rmsprop)
    n_words=10000,  # vocabulary size
    optimizer=adadelta,  # sgd, adadelta or rmsprop (a function or its name); sgd is hard to use
    encoder="lstm",  # the only encoder
    saveto="lstm_model.npz",  # the best model is saved there ('' or None: not saved)
    validFreq=370,  # compute the validation error after this number of updates (-1: each epoch)
    saveFreq=1110,  # save the parameters after every saveFreq updates (-1: each epoch)
    maxlen=100,  # training reviews this long or longer are left out
    batch_size=16,  # the batch size during training
    valid_batch_size=64,  # the batch size used for the validation and test sets
    dataset="imdb",
    noise_std=0.0,  # kept in the model options, as in the tutorial, which never uses it
    use_dropout=True,  # if False slightly faster, but worse test error
    reload_model=None,  # a saved model to start from (True: saveto, the tutorial's file)
    test_size=-1,  # if > 0, keep only this number of test reviews, chosen at random
    *,
    data_path=None,  # the data file: imdb.pkl (the tutorial's) or an .npz (imdb.save_npz); None:
    # DATA_PATHS[dataset] (imdb.pkl; the shipped made reviews for dataset="toy")
    floatX=None,  # "float32" or "float64"; None keeps the engine's
    mode=None,  # "c", "numba" or "jax"; None keeps the engine's
    checkpoint=None,  # where the training state is written (.npz)
    checkpoint_every=1,  # epochs between checkpoints; one is also written at the end
    resume=None,  # a checkpoint to go on from
    overwrite=False,  # replace an existing checkpoint file (a fresh run refuses to otherwise)
    callbacks=(),  # called with each trainer.Validation as it happens
):
    """Train the LSTM sentiment classifier as the tutorial's ``train_lstm`` does; returns an
    ``LSTMResult`` that unpacks as ``train_err, valid_err, test_err`` of the best model.

    NumPy's draws come from ``RandomState(123)``, in the tutorial's order (the validation split,
    the ``test_size`` selection, ``Wemb``, the eight orthogonal blocks, ``U``, then a shuffle per
    epoch), as the tutorial's do in a fresh process from ``numpy.random.seed(123)``.
    """
    fitting.configure(floatX=floatX, mode=mode)
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer {optimizer!r}: choose one of {sorted(OPTIMIZERS)}")
        optimizer = OPTIMIZERS[optimizer]
    check_settings(dim_proj=dim_proj, patience=patience, max_epochs=max_epochs,
                   dispFreq=dispFreq, decay_c=decay_c, lrate=lrate, n_words=n_words,
                   encoder=encoder, validFreq=validFreq, saveFreq=saveFreq, maxlen=maxlen,
                   batch_size=batch_size, valid_batch_size=valid_batch_size,
                   noise_std=noise_std, test_size=test_size, checkpoint_every=checkpoint_every,
                   dataset=dataset)
    if data_path is None:
        data_path = DATA_PATHS[dataset]
    fitting.check_outputs(resume, overwrite, saveto=saveto, checkpoint=checkpoint)

    model_options = dict(dim_proj=dim_proj, patience=patience, max_epochs=max_epochs,
                         dispFreq=dispFreq, decay_c=decay_c, lrate=lrate, n_words=n_words,
                         optimizer=optimizer.__name__, encoder=encoder, saveto=saveto,
                         validFreq=validFreq, saveFreq=saveFreq, maxlen=maxlen,
                         batch_size=batch_size, valid_batch_size=valid_batch_size,
                         dataset=dataset, noise_std=noise_std, use_dropout=use_dropout,
                         reload_model=reload_model, test_size=test_size)
    log.info("model options %s", model_options)
    rng = numpy.random.RandomState(SEED)

    load_data, prepare_data = get_dataset(dataset)
    log.info("Loading data")
    train, valid, test = load_data(data_path, n_words=n_words, valid_portion=0.05, maxlen=maxlen,
                                   rng=rng)
    if test_size > 0:
        # the test set is sorted by length: keep a random selection of it
        idx = numpy.arange(len(test[0]))
        rng.shuffle(idx)
        idx = idx[:test_size]
        test = ([test[0][n] for n in idx], [test[1][n] for n in idx])
    for name, split in (("training", train), ("validation", valid), ("test", test)):
        if not split[0]:
            raise ValueError(f"{data_path}: the {name} set is empty (maxlen={maxlen}, "
                             f"test_size={test_size}): raise maxlen or use more data")

    model_options["ydim"] = ydim = int(numpy.max(train[1]) + 1)

    epoch_updates = len(train[0]) // batch_size
    for name, every in (("validFreq", validFreq), ("saveFreq", saveFreq if saveto else None)):
        if every == -1 and epoch_updates == 0:  # the tutorial divided by 0
            raise ValueError(f"{name} -1 (each epoch) counts full minibatches, and the "
                             f"{len(train[0])} training reviews do not fill one of batch_size "
                             f"{batch_size}: lower batch_size ({flag('batch_size')}) or give "
                             f"{flag(name)} in updates")
    model_options["validFreq"] = validFreq = epoch_updates if validFreq == -1 else validFreq
    model_options["saveFreq"] = epoch_updates if saveFreq == -1 else saveFreq
    settings = dict(model_options, data_path=os.fspath(data_path), engine=engine.name(),
                    floatX=engine.floatX())
    n_updates = max_epochs * -(-len(train[0]) // batch_size)  # minibatches of max_epochs
    saved = (saving.read_run(resume, "lstm", settings, rng=True, n_updates=n_updates,
                             patience=patience) if resume else None)

    log.info("Building model")
    params = init_params(model_options, rng)
    if reload_model:
        load_params(saveto if reload_model is True else reload_model, params)
    tparams = init_tparams(params)

    use_noise, x, mask, y, f_pred_prob, f_pred, cost = build_model(tparams, model_options)
    if decay_c > 0.0:
        decay = engine.shared(numpy_floatX(decay_c), "decay_c")
        cost += decay * (tparams["U"] ** 2).sum()
    grads = engine.grad(cost, list(tparams.values()))
    lr = T.scalar(name="lr")
    f_grad_shared, f_update = optimizer(lr, tparams, grads, x, mask, y, cost)

    dropout_state = list(engine.updated_variables(f_pred).values())
    counter = ErrorCounter(build_predictor(tparams, model_options), prepare_data,
                           dropout_state[0] if dropout_state else None, dim_proj)

    log.info("Optimization")
    training = _Training(f_grad_shared, f_update, counter, prepare_data, tparams, use_noise, train,
                         valid, test, model_options, rng)
    log.info("%d train examples", len(train[0]))
    log.info("%d valid examples", len(valid[0]))
    log.info("%d test examples", len(test[0]))

    stopping = ValidationPatience(n_epochs=max_epochs, patience=patience,
                                  validation_frequency=validFreq)
    values = engine.updated_variables(f_grad_shared, f_update, f_pred)
    training.state = state = (training.restore(saved, values) if resume
                              else TrainState(patience=patience))
    write_checkpoint = training.checkpoint_writer(checkpoint, "lstm", settings, values)

    def show(record):
        log.info("Train  %s Valid  %s Test  %s", record.train_loss, record.validation_loss,
                 record.test_score)
        if record.bad_counter > patience:
            log.info("Early Stop!")

    start_time = timeit.default_timer()
    with StopRequest() as stop, CompilesAhead(f_grad_shared, f_update, counter.predictor) as ahead:
        try:
            result = trainer.train(training, training.n_train_batches, stopping,
                                   callbacks=(show, *callbacks), state=state,
                                   checkpoint=write_checkpoint if checkpoint else None,
                                   checkpoint_every=checkpoint_every, stop_requested=stop)
        except Diverged as error:  # the tutorial's line; it returned 1., 1., 1.
            log.info("bad cost detected:  %s", error.cost)
            fix = (f"lrate ({flag('lrate')} {lrate!r})" if optimizer is sgd else
                   f"another optimizer ({flag('optimizer')}) than {optimizer.__name__}")
            error.args = (f"{error.args[0]}; try a lower decay_c ({flag('decay_c')} "
                          f"{decay_c!r}) or {'a lower ' if optimizer is sgd else ''}{fix}",)
            raise
    end_time = timeit.default_timer()
    if result.stop_reason == "interrupted":
        log.info("Training interupted")
    else:
        training.end_epoch()

    best_p = training.best_params()
    zipp(best_p, tparams)
    kf_train_sorted = get_minibatches_idx(len(train[0]), batch_size)
    train_err = training.error(train, kf_train_sorted)
    valid_err = training.validation_loss()
    test_err = training.test_score()

    log.info("Train  %s Valid  %s Test  %s", train_err, valid_err, test_err)
    if saveto:
        save_model(saveto, best_p, model_options, train_err=train_err, valid_err=valid_err,
                   test_err=test_err, history_errs=_history_errs(result.state))
    n_epochs = training.eidx + 1
    log.info("The code run for %d epochs, with %f sec/epochs", n_epochs,
             (end_time - start_time) / (1.0 * n_epochs))
    log.info("Training took %.1fs", end_time - start_time)
    ahead.report()
    return LSTMResult(float(train_err), float(valid_err), float(test_err), result, best_p)
