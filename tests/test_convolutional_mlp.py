"""convolutional_mlp: LeNet5's initial weights, its forward pass against NumPy, training in every mode."""

import numpy
import pytest
from scipy.signal import convolve2d

from conftest import in_every_mode, numpy_softmax
from dltut import engine, registry
from dltut.engine import T


def _lenet(batch_size=3, nkerns=(20, 50), seed=23455):
    x = T.matrix("x")
    arch = {"model": "lenet5", "batch_size": batch_size, "nkerns": list(nkerns), "n_hidden": 500,
            "n_out": 10}
    return x, registry.build(arch, numpy.random.RandomState(seed), x)


def test_initial_weights_follow_the_tutorial_seed(floatX64):
    # convolutional_mlp.py draws layer 0's filters, layer 1's, then the hidden W from
    # RandomState(23455); fan_out divides by the pool area with integer division.
    _, lenet = _lenet()
    rng = numpy.random.RandomState(23455)
    bound0 = numpy.sqrt(6.0 / (1 * 5 * 5 + 20 * 5 * 5 // 4))  # fan_in 25, fan_out 125
    bound1 = numpy.sqrt(6.0 / (20 * 5 * 5 + 50 * 5 * 5 // 4))  # fan_in 500, fan_out 312
    bound2 = numpy.sqrt(6.0 / (50 * 4 * 4 + 500))  # 800 inputs: 28 -> 12 -> 4
    expected = {
        "W_conv0": rng.uniform(low=-bound0, high=bound0, size=(20, 1, 5, 5)),
        "W_conv1": rng.uniform(low=-bound1, high=bound1, size=(50, 20, 5, 5)),
        "W_hidden": rng.uniform(low=-bound2, high=bound2, size=(800, 500)),
    }
    values = registry.param_values(lenet)
    for name, value in expected.items():
        numpy.testing.assert_array_equal(values[name], value)
    for name in ("b_conv0", "b_conv1", "b_hidden", "W_logreg", "b_logreg"):
        assert not values[name].any(), name
    assert list(values) == ["W_logreg", "b_logreg", "W_hidden", "b_hidden", "W_conv1", "b_conv1",
                            "W_conv0", "b_conv0"]


def _numpy_conv_pool(images, W, b):
    """Theano's conv2d (valid, flipped filter), 2x2 max pooling, bias and tanh, in NumPy."""
    n_filters = W.shape[0]
    conv = numpy.array([[sum(convolve2d(image[c], W[k, c], mode="valid")
                             for c in range(W.shape[1])) for k in range(n_filters)]
                        for image in images])
    b_, k_, r, c = conv.shape
    pooled = conv[:, :, : r // 2 * 2, : c // 2 * 2].reshape(b_, k_, r // 2, 2, c // 2, 2)
    return numpy.tanh(pooled.max(axis=(3, 5)) + b[None, :, None, None])


def test_forward_against_numpy(floatX64, mode):
    x, lenet = _lenet(batch_size=2, nkerns=(3, 4))
    rng = numpy.random.RandomState(7)
    for param in lenet.params:  # non-zero biases and output weights, so every term shows
        param.set_value(rng.uniform(-0.3, 0.3, param.get_value().shape))
    images = rng.rand(2, 784)
    values = registry.param_values(lenet)
    h0 = _numpy_conv_pool(images.reshape(2, 1, 28, 28), values["W_conv0"], values["b_conv0"])
    h1 = _numpy_conv_pool(h0, values["W_conv1"], values["b_conv1"])
    assert h1.shape == (2, 4, 4, 4)
    h2 = numpy.tanh(h1.reshape(2, -1) @ values["W_hidden"] + values["b_hidden"])
    expected = numpy_softmax(h2 @ values["W_logreg"] + values["b_logreg"])
    got = engine.function([x], lenet.p_y_given_x)(images)
    numpy.testing.assert_allclose(got, expected, rtol=1e-10)


def test_channels_must_match():
    from dltut.tutorials.convolutional_mlp import LeNetConvPoolLayer

    with pytest.raises(ValueError, match="filter_shape\\[1\\] must equal image_shape\\[1\\]"):
        LeNetConvPoolLayer(numpy.random.RandomState(0), T.tensor4("x"), filter_shape=(4, 2, 5, 5),
                           image_shape=(3, 1, 28, 28))


def test_small_training_run_is_the_same_in_every_mode(tiny_mnist, tmp_path, floatX64, modes):
    import dltut

    runs = in_every_mode(lambda mode: dltut.evaluate_lenet5(
        n_epochs=1, dataset=tiny_mnist, nkerns=(2, 3), batch_size=50,
        out=tmp_path / f"lenet_{mode}.npz"), modes)
    reference = runs["c"]
    assert reference.iterations == 12 and len(reference.history) == 1
    for mode, result in runs.items():
        numpy.testing.assert_allclose(result.costs, reference.costs, rtol=1e-9, err_msg=mode)
        assert result.best_validation_loss == reference.best_validation_loss, mode
    # the saved model, rebuilt for one batch of all 200 test images, scores the test error
    from dltut import data, saving

    _, _, (test_x, test_y) = data.load_data(tiny_mnist)
    predicted = saving.load_model(tmp_path / "lenet_c.npz").predict(test_x)
    assert numpy.mean(predicted != test_y) == pytest.approx(reference.test_score)
