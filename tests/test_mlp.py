"""mlp: the hidden layer's draw and forward pass, the MLP's seed and regularisers, its cost, and a
small training run that is the same in every mode."""

import numpy
import pytest

import dltut
from conftest import in_every_mode
from dltut import engine, registry
from dltut.engine import T
from dltut.tutorials.mlp import HiddenLayer, sigmoid, tanh


@pytest.mark.parametrize("activation, scale", [("tanh", 1), ("sigmoid", 4), (None, 1)])
def test_hidden_layer_draw_and_forward(floatX64, activation, scale):
    act = {"tanh": tanh, "sigmoid": sigmoid, None: None}[activation]
    x = T.matrix("x")
    layer = HiddenLayer(numpy.random.RandomState(5), x, 6, 3, activation=act)
    bound = numpy.sqrt(6.0 / (6 + 3))
    expected_W = numpy.random.RandomState(5).uniform(-bound, bound, (6, 3)) * scale
    numpy.testing.assert_array_equal(layer.W.get_value(), expected_W)
    numpy.testing.assert_array_equal(layer.b.get_value(), numpy.zeros(3))
    xs = numpy.random.RandomState(6).randn(4, 6)
    linear = xs @ expected_W
    expected = {"tanh": numpy.tanh(linear), "sigmoid": 1 / (1 + numpy.exp(-linear)),
                None: linear}[activation]
    numpy.testing.assert_allclose(engine.function([x], layer.output)(xs), expected, rtol=1e-12)


def test_mlp_initial_weights_follow_the_tutorial_seed(floatX64):
    # mlp.py: RandomState(1234); the hidden layer's W is the first and only draw
    x = T.matrix("x")
    mlp = registry.build({"model": "mlp", "n_in": 784, "n_hidden": 500, "n_out": 10},
                       numpy.random.RandomState(1234), x)
    bound = numpy.sqrt(6.0 / (784 + 500))
    expected = numpy.random.RandomState(1234).uniform(low=-bound, high=bound, size=(784, 500))
    numpy.testing.assert_array_equal(mlp.hiddenLayer.W.get_value(), expected)
    assert [p.name for p in mlp.params] == ["W_hidden", "b_hidden", "W_logreg", "b_logreg"]
    assert not mlp.logRegressionLayer.W.get_value().any()


def test_mlp_regularisers_against_numpy(floatX64):
    x = T.matrix("x")
    mlp = registry.build({"model": "mlp", "n_in": 5, "n_hidden": 3, "n_out": 2},
                       numpy.random.RandomState(0), x)
    W2 = numpy.random.RandomState(1).randn(3, 2)
    mlp.logRegressionLayer.W.set_value(W2)
    W1 = mlp.hiddenLayer.W.get_value()
    l1, l2 = engine.function([], [mlp.L1, mlp.L2_sqr])()
    assert l1 == pytest.approx(abs(W1).sum() + abs(W2).sum())
    assert l2 == pytest.approx((W1**2).sum() + (W2**2).sum())


def test_a_zero_regularisation_term_costs_no_work(floatX64):
    """test_mlp writes the tutorial's cost, nll + L1_reg * L1 + L2_reg * L2_sqr; with L1_reg = 0
    PyTensor's rewrites drop the L1 term and its gradient (no abs, no sign left to compute)."""
    if engine.name() != "pytensor":
        pytest.skip("the rewrite is PyTensor's")
    x, y = T.matrix("x"), T.ivector("y")
    mlp = registry.build({"model": "mlp", "n_in": 5, "n_hidden": 3, "n_out": 2},
                         numpy.random.RandomState(0), x)

    def kinds(L1_reg):
        cost = mlp.negative_log_likelihood(y) + L1_reg * mlp.L1 + 0.0001 * mlp.L2_sqr
        graph = engine.function([x, y], engine.grad(cost, mlp.params)).maker.fgraph
        found, nodes = set(), list(graph.apply_nodes)
        while nodes:  # the fused elementwise operations' own graphs too
            op = nodes.pop().op
            op = getattr(op, "scalar_op", op)
            found.add(type(op).__name__)
            nodes += list(getattr(getattr(op, "fgraph", None), "apply_nodes", ()))
        return found

    assert "Sgn" in kinds(0.01) or "Sign" in kinds(0.01)
    assert not {"Abs", "Sgn", "Sign"} & kinds(0.0)


def test_mlp_small_run_is_the_same_in_every_mode(tiny_mnist, tmp_path, floatX64, modes):
    runs = in_every_mode(lambda mode: dltut.test_mlp(
        n_epochs=2, dataset=tiny_mnist, batch_size=20, n_hidden=30, out=tmp_path / f"mlp_{mode}.npz"), modes)
    reference = runs["c"]
    assert reference.iterations == 60 and [v.iter for v in reference.history] == [29, 59]
    for mode, result in runs.items():
        numpy.testing.assert_allclose(result.costs, reference.costs, rtol=1e-9, err_msg=mode)
        assert [v.validation_loss for v in result.history] == \
            [v.validation_loss for v in reference.history], mode
