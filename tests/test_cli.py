"""The common command line, through scripts/logreg.py: bad settings and a missing model file are
one line on stderr and exit status 2, before any model file is written; scripts/dA.py: its own
flags, the tutorial's lines and pictures; scripts/rbm.py: its flags, one line for bad settings."""

import re

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


def test_dA_script_takes_its_own_flags():
    from dltut.cli import build_parser

    words = set(re.findall(r"--[\w-]+|\w+", build_parser("dA").format_help()))
    for flag in ("--learning-rate", "--training-epochs", "--batch-size", "--dataset",
                 "--output-folder", "--floatX", "--mode", "--device", "--fused"):
        assert flag in words
    for flag in ("--out", "--checkpoint", "--resume", "--patience", "--n-epochs", "predict"):
        assert flag not in words
    args = build_parser("dA").parse_args([])
    assert (args.learning_rate, args.training_epochs, args.batch_size, args.output_folder) == \
        (0.1, 15, 20, "dA_plots")


def test_dA_script_prints_the_tutorial_lines(tiny_mnist, tmp_path):
    run = run_script("dA.py", "--training-epochs", "1", "--dataset", tiny_mnist,
                     "--output-folder", "pictures", "--floatX", "float64", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "... loading data"
    assert [line.split("cost  ")[0] for line in lines if line.startswith("Training")] == \
        ["Training epoch 0, "] * 2
    assert any(line.startswith("The no corruption code for file dA.py ran for ") for line in lines)
    assert any(line.startswith("The 30% corruption code for file dA.py ran for ") for line in lines)
    assert sorted(p.name for p in (tmp_path / "pictures").iterdir()) == \
        ["filters_corruption_0.png", "filters_corruption_30.png"]
    bad = run_script("dA.py", "--training-epochs", "0", "--dataset", tiny_mnist, cwd=tmp_path)
    assert bad.returncode == 2 and "training_epochs must be a positive integer, got 0" in bad.stderr


def test_rbm_script_takes_its_own_flags():
    from dltut.cli import build_parser

    words = set(re.findall(r"--[\w-]+|\w+", build_parser("rbm").format_help()))
    for flag in ("--learning-rate", "--training-epochs", "--batch-size", "--n-chains",
                 "--n-samples", "--n-hidden", "--output-folder", "--dataset", "--mode", "--fused"):
        assert flag in words
    for flag in ("--out", "--checkpoint", "--patience", "--n-epochs", "predict"):
        assert flag not in words
    args = build_parser("rbm").parse_args([])
    assert (args.learning_rate, args.training_epochs, args.batch_size, args.n_chains,
            args.n_samples, args.output_folder, args.n_hidden) == \
        (0.1, 15, 20, 20, 10, "rbm_plots", 500)


def test_rbm_script_refuses_bad_settings_in_one_line(tiny_mnist, tmp_path):
    bad = run_script("rbm.py", "--n-chains", "500", "--dataset", tiny_mnist, cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "n_chains 500 is not smaller than the test set (200 images)" in bad.stderr
    assert not list(tmp_path.iterdir())
