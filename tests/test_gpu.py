"""The GPU path (JAX mode on JAX's GPU). Skipped where JAX sees no GPU, as in CI."""

import logging

import numpy
import pytest

import dltut
from dltut import engine

gpu = pytest.mark.skipif(not engine._jax_gpus() if engine.name() == "pytensor" else True,
                         reason="JAX sees no GPU (pip install -e .[gpu] on a GPU machine)")


def test_device_gpu_without_a_gpu_is_a_clear_error():
    if engine._jax_gpus():
        pytest.skip("this machine has a GPU")
    with pytest.raises(RuntimeError, match="JAX sees no GPU.*pip install -e .\\[gpu\\]"):
        engine.set_device("gpu")


def test_device_auto_falls_back_to_the_cpu(caplog):
    if engine._jax_gpus():
        pytest.skip("this machine has a GPU")
    with caplog.at_level(logging.WARNING):
        assert engine.set_device("auto") == "cpu"
    assert "no GPU found: running on the CPU" in caplog.text


@gpu
@pytest.mark.parametrize("floatX", ["float64", "float32"])
def test_fused_equals_one_call_per_minibatch_on_the_gpu(tiny_mnist, floatX):
    runs = {fused: dltut.test_mlp(n_epochs=2, dataset=tiny_mnist, n_hidden=30, floatX=floatX,
                                  device="gpu", fused=fused) for fused in (False, True)}
    reference, fused = runs[False], runs[True]
    assert [v.iter for v in fused.history] == [v.iter for v in reference.history]
    if floatX == "float64":
        numpy.testing.assert_array_equal(fused.costs, reference.costs)
    else:  # XLA may fuse differently inside the scan: report the gap, bound it loosely
        gap = numpy.max(numpy.abs(fused.costs - reference.costs) / numpy.abs(reference.costs))
        print(f"float32 fused/unfused largest relative cost difference on the GPU: {gap:.2e}")
        assert gap < 1e-4


@gpu
@pytest.mark.slow
def test_logreg_reproduces_the_published_run_on_the_gpu():
    result = dltut.sgd_optimization_mnist(device="gpu", floatX="float32")
    assert "%f" % (result.best_validation_loss * 100) == "7.500000"
    assert "%f" % (result.test_score * 100) == "7.489583"
    assert result.epochs == 74
