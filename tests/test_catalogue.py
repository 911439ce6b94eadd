"""The catalogue of tutorials, the ``dltut`` command that reads it, and ``dltut suite``'s
checks; the suite's real quick runs against the original's lines are slow tests."""

import inspect
import logging
import os
import subprocess
import sys

import pytest

from dltut import catalogue, suite
from dltut.__main__ import main

from conftest import ROOT, run_script


def test_every_entry_point_takes_the_catalogues_flags():
    for tutorial in catalogue.TUTORIALS.values():
        parameters = inspect.signature(catalogue.function(tutorial.name)).parameters
        assert set(tutorial.flags) <= set(parameters), tutorial.name
        assert tutorial.original.startswith("code/") and tutorial.original.endswith(".py")
        if tutorial.quick is not None:
            assert set(tutorial.quick.settings) <= set(parameters), tutorial.name
            assert tutorial.quick.lines and tutorial.quick.source
        if tutorial.published is not None:
            assert tutorial.supervised, tutorial.name  # an error rate: a classifier


def test_defaults_are_the_entry_points():
    assert catalogue.defaults("logreg")["learning_rate"] == 0.13
    assert catalogue.defaults("mlp")["n_hidden"] == 500
    assert "dataset" not in catalogue.hyperparameters("logreg")
    assert catalogue.uses_data("rbm") and not catalogue.uses_data("hmc")
    assert catalogue.names(supervised=True) == ["logreg", "mlp", "lenet", "SdA", "DBN"]


def test_an_unknown_tutorial_is_one_error_naming_the_choices():
    with pytest.raises(ValueError, match="no tutorial 'lstmx': choose one of logreg, "):
        catalogue.get("lstmx")


def test_the_library_does_not_import_its_command_line():
    code = ("import sys, dltut.catalogue, dltut.sweep, dltut.batched, dltut.plots, dltut.suite; "
            "print(sorted(m for m in sys.modules if m in ('dltut.cli', 'dltut.__main__')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=dict(os.environ, PYTHONPATH=ROOT)).stdout
    assert out.strip() == "[]"


def test_dltut_list_is_a_line_per_tutorial(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(catalogue.TUTORIALS)
    assert "code/logistic_sgd.py" in lines[0]


@pytest.mark.parametrize("argv", [["--help"], ["suite", "--help"], ["run", "--help"],
                                  ["run", "logreg", "--help"], ["sweep", "mlp", "--help"],
                                  ["predict", "lenet", "--help"], ["info", "--help"]])
def test_help_is_whole_sentences(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith("usage: dltut")
    description = text.split("\n")[0]
    assert "(the tutorials are in" not in description  # the old cut sentence
    for sentence_end in (" and", " the", " (", ","):
        assert not text.rstrip().endswith(sentence_end)


def test_a_tutorial_command_rejects_an_unknown_tutorial(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "lstmx"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'lstmx'" in capsys.readouterr().err


def _dltut(*args, cwd):
    """``python -m dltut ARGS`` in ``cwd`` with dltut from this checkout; the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "dltut", *args], cwd=cwd,
                          env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                          timeout=600)


def test_dltut_run_is_the_script(tiny_mnist, tmp_path):
    """``python -m dltut run logreg`` and ``scripts/logreg.py``: the same lines, the same model."""
    args = ["--dataset", str(tiny_mnist), "--n-epochs", "2", "--batch-size", "100", "--mode", "c"]
    for folder in ("script", "command"):
        (tmp_path / folder).mkdir()
    script = run_script("logreg.py", *args, cwd=tmp_path / "script")
    command = _dltut("run", "logreg", *args, cwd=tmp_path / "command")
    assert script.returncode == command.returncode == 0, command.stderr

    def lines(run):
        return [line for line in run.stdout.splitlines() if "ran for" not in line
                and "epochs/sec" not in line]
    assert lines(command) == lines(script)
    assert any(line.startswith("epoch 2, minibatch 6/6") for line in lines(command))
    predicted = _dltut("predict", "logreg", "--dataset", str(tiny_mnist), "--count", "3",
                       cwd=tmp_path / "command")
    assert predicted.returncode == 0, predicted.stderr
    assert "Predicted values for the first 3 examples in test set:" in \
        predicted.stdout.splitlines()


def test_a_bad_flag_names_the_command(tmp_path):
    run = _dltut("run", "logreg", "--n-epochs", "0", cwd=tmp_path)
    assert run.returncode == 2
    assert "dltut run logreg: error: n_epochs must be an integer >= 1, got 0" in run.stderr


# ----------------------------------------------------------------------------------------------
# dltut suite


def test_check_line_compares_words_exactly_and_numbers_as_told():
    printed = ["epoch 1, minibatch 83/83, validation error 12.458333 %",
               "Training epoch 0, cost  63.289169420112245"]
    assert suite.check_line(printed[0], printed).agrees
    near = suite.check_line("Training epoch 0, cost  63.28916942011223", printed, rel=1e-12)
    assert near.agrees and 0 < near.difference < 1e-15
    assert not suite.check_line("Training epoch 0, cost  63.28916942011223", printed).agrees
    off = suite.check_line("epoch 1, minibatch 83/83, validation error 12.458334 %", printed)
    assert not off.agrees and off.printed == printed[0]
    missing = suite.check_line("epoch 1, minibatch 83/83, test error 12.458333 %", printed)
    assert missing.printed is None and not missing.agrees


def test_standard_error_is_binomial():
    assert suite.standard_error(7.5) == pytest.approx(100 * (0.075 * 0.925 / 10000) ** 0.5)


def test_suite_reports_lines_that_agree_and_lines_that_differ(tiny_mnist, tmp_path, monkeypatch,
                                                              capsys, caplog):
    """The suite's machinery on a tiny run: lines a run printed agree; a changed digit and a
    line never printed are reported, and the exit status says so."""
    import dltut

    with caplog.at_level(logging.INFO, logger="dltut"):
        dltut.sgd_optimization_mnist(n_epochs=2, dataset=tiny_mnist, batch_size=100,
                                     floatX="float64", out=tmp_path / "m.npz")
    caught = [record.getMessage() for record in caplog.records]
    validation = [line for line in caught if "validation error" in line]
    assert len(validation) == 2
    settings = {"n_epochs": 2, "batch_size": 100, "dataset": str(tiny_mnist)}
    good = catalogue.Quick(settings, tuple(validation), "this test's own run")
    tutorial = catalogue.TUTORIALS["logreg"]
    monkeypatch.setitem(catalogue.TUTORIALS, "logreg",
                        catalogue.dataclasses.replace(tutorial, quick=good))
    report = tmp_path / "reports" / "quick.md"
    assert main(["suite", "--only", "logreg", "--report", str(report)]) == 0
    assert "| logreg | n_epochs=2" in report.read_text() and "| 2/2 |" in report.read_text()

    changed = validation[1][:-3] + ("1 %" if validation[1][-3] != "1" else "2 %")
    bad = catalogue.Quick(settings, (validation[0], changed, "no such line 1.0"), "made up")
    monkeypatch.setitem(catalogue.TUTORIALS, "logreg",
                        catalogue.dataclasses.replace(tutorial, quick=bad))
    assert main(["suite", "--only", "logreg", "--report", str(report)]) == 1
    text = report.read_text()
    assert "| 1/3 |" in text and "## Lines that differ" in text
    assert f"expected `{changed}`, printed `{validation[1]}`" in text
    assert "expected `no such line 1.0`, printed no such line" in text
    assert "report written to" in capsys.readouterr().out


def test_suite_refuses_a_tutorial_without_figures(capsys):
    assert main(["suite", "--full", "--only", "dA"]) == 2
    assert "no --full figures for dA: choose among logreg, mlp, lenet, SdA, DBN" in \
        capsys.readouterr().err


@pytest.mark.slow
def test_quick_suite_prints_the_originals_lines(tmp_path):
    """``dltut suite --quick`` for the tutorials that take seconds (the others: test_originals)."""
    report = tmp_path / "suite.md"
    assert main(["suite", "--only", "logreg", "lenet", "cA", "--report", str(report)]) == 0, \
        report.read_text()
