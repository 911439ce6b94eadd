"""The tutorials' ``train_model``, ``validate_model`` and ``test_model``, compiled once for any model.

The data sets live in shared variables and each compiled function takes a minibatch index, so
minibatches are cut inside the compiled graph, as in the tutorials. The cut is written as
``data[:n_batches * batch_size].reshape((n_batches, batch_size, ...))[index]`` rather than the
tutorials' ``data[index * batch_size:(index + 1) * batch_size]``: the same rows, but with a static
shape, which JAX needs. As in the tutorials, the last ``n % batch_size`` examples of each split are
never used.
"""

import numpy

from dltut import engine
from dltut.engine import T


def n_batches(shared_data, batch_size, split):
    """Whole minibatches in a split; an error if there is none."""
    n_examples = shared_data.get_value(borrow=True).shape[0]
    if batch_size > n_examples:
        raise ValueError(
            f"batch_size {batch_size} is larger than the {split} set ({n_examples} examples): "
            f"use a batch size of at most {n_examples}"
        )
    return n_examples // batch_size


def minibatch(shared_data, index, batch_size, n_batch):
    """Symbolic minibatch ``index`` of a shared data set (rows ``index * batch_size`` onwards)."""
    rows = shared_data[: n_batch * batch_size]
    shape = (n_batch, batch_size) + tuple(shared_data.get_value(borrow=True).shape[1:])
    return rows.reshape(shape)[index]


class CompiledModel:
    """Compiled functions of one model over the three shared data sets.

    ``x`` and ``y`` are the symbolic minibatch the model was built on; ``cost`` is minimised by
    ``updates`` (e.g. ``dltut.updates.sgd``), ``errors`` is the zero-one loss, ``params`` the
    parameters whose values are kept for the best model. ``datasets`` is
    ``[(train_x, train_y), (valid_x, valid_y), (test_x, test_y)]`` of shared variables.
    """

    def __init__(self, x, y, cost, errors, params, updates, datasets, batch_size):
        index = T.lscalar("index")
        (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = datasets
        self.params = params
        self.n_train_batches = n_batches(train_x, batch_size, "training")
        self.n_valid_batches = n_batches(valid_x, batch_size, "validation")
        self.n_test_batches = n_batches(test_x, batch_size, "test")

        def givens(data_x, data_y, n_batch):
            return {
                x: minibatch(data_x, index, batch_size, n_batch),
                y: minibatch(data_y, index, batch_size, n_batch),
            }

        self.train_model = engine.function(
            [index], cost, updates=updates,
            givens=givens(train_x, train_y, self.n_train_batches), name="train_model",
        )
        self.validate_model = engine.function(
            [index], errors, givens=givens(valid_x, valid_y, self.n_valid_batches),
            name="validate_model",
        )
        self.test_model = engine.function(
            [index], errors, givens=givens(test_x, test_y, self.n_test_batches), name="test_model",
        )

    def train_minibatches(self, first, count):
        """One update per minibatch ``first .. first + count - 1``; their costs."""
        return numpy.array([self.train_model(i) for i in range(first, first + count)])

    def validation_loss(self):
        """Mean of the per-minibatch zero-one losses over the validation set."""
        return numpy.mean([self.validate_model(i) for i in range(self.n_valid_batches)])

    def test_score(self):
        """Mean of the per-minibatch zero-one losses over the test set."""
        return numpy.mean([self.test_model(i) for i in range(self.n_test_batches)])

    def get_params(self):
        return [param.get_value(borrow=False) for param in self.params]

    def set_params(self, values):
        for param, value in zip(self.params, values):
            param.set_value(value)
