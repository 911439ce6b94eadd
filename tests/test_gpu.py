"""The GPU path (JAX mode on JAX's GPU). Skipped where JAX sees no GPU, as in CI."""

import logging

import numpy
import pytest

import dltut
from dltut import engine, ops
from dltut.backend import modes

gpu = pytest.mark.skipif(not modes._jax_gpus() if engine.name() == "pytensor" else True,
                         reason="JAX sees no GPU (pip install -e .[gpu] on a GPU machine)")


def test_device_gpu_without_a_gpu_is_a_clear_error():
    if modes._jax_gpus():
        pytest.skip("this machine has a GPU")
    with pytest.raises(RuntimeError, match="JAX sees no GPU.*pip install -e .\\[gpu\\]"):
        engine.set_device("gpu")


def test_device_auto_falls_back_to_the_cpu(caplog):
    if modes._jax_gpus():
        pytest.skip("this machine has a GPU")
    with caplog.at_level(logging.WARNING):
        assert engine.set_device("auto") == "cpu"
    assert "no GPU found: running on the CPU" in caplog.text


RUNS = {  # small runs of each architecture on the tiny data set
    "mlp": lambda **kw: dltut.test_mlp(n_epochs=2, n_hidden=30, **kw),
    "lenet5": lambda **kw: dltut.evaluate_lenet5(n_epochs=2, nkerns=(4, 6), batch_size=100, **kw),
}
TOLERANCE = {"float64": 1e-12, "float32": 1e-4}  # largest relative cost difference allowed


@gpu
@pytest.mark.parametrize("arch", RUNS)
@pytest.mark.parametrize("floatX", ["float64", "float32"])
def test_fused_equals_one_call_per_minibatch_on_the_gpu(tiny_mnist, floatX, arch):
    """Same iterations and validation errors, costs and best model equal up to rounding.

    On the CPU the two are bit-equal (tests/test_compiled.py); on the GPU XLA may fuse the
    scan's body otherwise than the single step, so the gap is printed (run pytest with -s or
    -rA to see it) and bounded.
    """
    runs = {fused: RUNS[arch](dataset=tiny_mnist, floatX=floatX, device="gpu", fused=fused)
            for fused in (False, True)}
    _assert_same_up_to_rounding(runs[True], runs[False], floatX, f"{arch} fused/unfused")


def _assert_same_up_to_rounding(got, expected, floatX, what):
    """The same validations; costs and best model equal within ``TOLERANCE[floatX]``."""
    assert [(v.iter, v.validation_loss) for v in got.history] == \
        [(v.iter, v.validation_loss) for v in expected.history]
    gap = numpy.max(numpy.abs(got.costs - expected.costs) / numpy.abs(expected.costs))
    print(f"{what} {floatX}: largest relative cost difference on the GPU {gap:.2e}")
    assert gap <= TOLERANCE[floatX]
    for got_param, expected_param in zip(got.best_params, expected.best_params):
        numpy.testing.assert_allclose(got_param, expected_param, rtol=TOLERANCE[floatX] * 10,
                                      atol=TOLERANCE[floatX])


@gpu
@pytest.mark.parametrize("floatX", ["float64", "float32"])
def test_lenet_with_the_xla_convolution_on_the_gpu(tiny_mnist, floatX):
    """conv2d(method="xla") (cuDNN) trains LeNet as the default im2col does, up to rounding."""
    runs = {}
    for method in (None, "xla"):
        ops.set_default_method(method)
        try:
            runs[method] = RUNS["lenet5"](dataset=tiny_mnist, floatX=floatX, device="gpu")
        finally:
            ops.set_default_method(None)
    reference, xla = runs[None], runs["xla"]
    assert [(v.iter, v.validation_loss) for v in xla.history] == \
        [(v.iter, v.validation_loss) for v in reference.history]
    gap = numpy.max(numpy.abs(xla.costs - reference.costs) / numpy.abs(reference.costs))
    print(f"lenet5 {floatX}: xla/im2col largest relative cost difference on the GPU {gap:.2e}")
    assert gap <= TOLERANCE[floatX]


@gpu
@pytest.mark.slow
def test_logreg_reproduces_the_published_run_on_the_gpu():
    result = dltut.sgd_optimization_mnist(device="gpu", floatX="float32")
    assert "%f" % (result.best_validation_loss * 100) == "7.500000"
    assert "%f" % (result.test_score * 100) == "7.489583"
    assert result.epochs == 74


@gpu
@pytest.mark.parametrize("floatX", ["float64", "float32"])
def test_a_group_on_the_gpu_equals_its_solo_runs_up_to_rounding(tiny_mnist, floatX):
    """A batched group on the GPU is vmapped (one program for all runs): the same validations
    as each solo run on the GPU, costs and best models equal up to rounding."""
    from dltut.batched import fit_group

    runs = [{"n_epochs": 2, "n_hidden": 30, "learning_rate": rate, "seed": seed}
            for rate in (0.01, 0.1) for seed in (1, 2)]
    group = fit_group("mlp", runs, dataset=tiny_mnist, floatX=floatX, device="gpu")
    for run, got in zip(runs, group):
        expected = dltut.test_mlp(dataset=tiny_mnist, floatX=floatX, device="gpu", **run)
        _assert_same_up_to_rounding(got, expected, floatX, "mlp group/solo")
