"""The common command line, through scripts/logreg.py: bad settings and a missing model file are
one line on stderr and exit status 2, before any model file is written."""

import pytest

from conftest import run_script


@pytest.mark.parametrize("args, message", [
    (["--batch-size", "700"], "batch_size 700 is larger than the training set (600 examples)"),
    (["--learning-rate", "-1"], "learning_rate must be positive, got -1.0"),
    (["--n-epochs", "0"], "n_epochs must be an integer >= 1, got 0"),
    (["--dataset", "nowhere.npz"], "nowhere.npz: no such file or directory"),
])
def test_script_bad_settings(tiny_mnist, tmp_path, args, message):
    if "--dataset" not in args:
        args = args + ["--dataset", str(tiny_mnist)]
    run = run_script("logreg.py", *args, cwd=tmp_path)
    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "out" / "logreg.npz").exists()


def test_predict_without_model(tmp_path):
    run = run_script("logreg.py", "predict", cwd=tmp_path)
    assert run.returncode == 2 and "no such model file" in run.stderr
