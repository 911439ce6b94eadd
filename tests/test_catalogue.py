"""The catalogue of tutorials, the ``dltut`` command that reads it, and ``dltut suite``'s
checks; the suite's real quick runs against the original's lines are slow tests."""

import ast
import inspect
import json
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


def _imports():
    """{dltut module: the dltut modules it imports anywhere (in functions too)}, read with ast."""
    package = os.path.join(ROOT, "dltut")
    modules = {}
    for folder, _, files in os.walk(package):
        for file in files:
            if file.endswith(".py"):
                path = os.path.join(folder, file)
                name = os.path.relpath(path[:-3], ROOT).replace(os.sep, ".")
                modules[name.removesuffix(".__init__")] = path
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found |= {f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules
                          else node.module for alias in node.names}
        graph[name] = {module for module in found if module in modules and module != name}
    return graph


def test_the_import_graph_has_no_circle_and_the_command_line_is_the_top():
    graph = _imports()
    assert "dltut.catalogue" in graph and graph["dltut.sweep"]
    for name, imported in graph.items():
        if name not in ("dltut.__main__", "dltut.cli"):
            assert not imported & {"dltut.cli", "dltut.__main__"}, name
    state = {}

    def visit(name, path):
        state[name] = "open"
        for other in graph[name]:
            assert state.get(other) != "open", " -> ".join(path + [other])
            if other not in state:
                visit(other, path + [other])
        state[name] = "done"

    for name in graph:
        if name not in state:
            visit(name, [name])


def test_the_library_does_not_import_its_command_line():
    code = ("import sys, dltut.catalogue, dltut.sweep, dltut.batched, dltut.plots, "
            "dltut.suite; "
            "print(sorted(m for m in sys.modules if m in ('dltut.cli', 'dltut.__main__')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=dict(os.environ, PYTHONPATH=ROOT)).stdout
    assert out.strip() == "[]"


def test_dltut_list_is_a_line_per_tutorial(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(catalogue.TUTORIALS)
    assert "code/logistic_sgd.py" in lines[0]
    # the summaries start in one column, past the longest original's path (the segmentation's)
    assert len({line.index(tutorial.summary) for line, tutorial
                in zip(lines, catalogue.TUTORIALS.values())}) == 1


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


def test_a_suite_started_again_runs_only_what_is_unfinished(tmp_path, monkeypatch, capsys):
    ran = []

    def quick(name, folder, mode=None):
        ran.append(name)  # run_task runs it here: the serial backend
        lines = catalogue.get(name).quick.lines
        return suite.Outcome(name, {}, 1.0, [suite.Check(line, line, 0.0, True) for line in lines])

    monkeypatch.setattr(suite, "run_quick", quick)
    report = tmp_path / "suite.md"
    assert main(["suite", "--only", "hmc", "cA", "--report", str(report)]) == 0
    assert ran == ["hmc", "cA"]
    saved = json.loads((tmp_path / "suite.json").read_text())
    assert set(saved["outcomes"]) == {"hmc", "cA"}
    # as if stopped after hmc: the results hold hmc only
    del saved["outcomes"]["cA"]
    (tmp_path / "suite.json").write_text(json.dumps(saved))
    assert main(["suite", "--only", "hmc", "cA", "--report", str(report)]) == 0
    assert ran == ["hmc", "cA", "cA"]
    assert "... hmc: equal (finished before; --fresh runs it again)" in capsys.readouterr().out
    assert main(["suite", "--only", "hmc", "--fresh", "--report", str(report)]) == 0
    assert ran[-1] == "hmc"
    assert "| hmc | defaults | equal | 2/2 |" in report.read_text()


# slow: starting a local Ray takes most of a minute here, the pool 19 s from an empty home (the
# pool's and Ray's tasks are checked in the fast suite by test_sweep)
@pytest.mark.slow
@pytest.mark.parametrize("backend", ["pool", "ray"])
def test_suite_tutorials_as_pool_or_ray_tasks(backend, tmp_path):
    report = tmp_path / "suite.md"
    argv = ["suite", "--only", "hmc", "--backend", backend, "--workers", "1", "--mode", "c",
            "--report", str(report)]
    if backend == "ray":  # in a process of its own: Ray forks, and this process runs JAX
        pytest.importorskip("ray")
        done = _dltut(*argv, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "os.fork() was called" not in done.stderr
    else:
        assert main(argv) == 0, report.read_text()
    assert "| hmc | floatX=float64 | equal | 2/2 |" in report.read_text()


def _outcome(**change):
    record = {"name": "hmc", "settings": {}, "seconds": 1.0, "errors": None, "failure": None,
              "checks": [{"expected": line, "printed": line, "difference": 0.0, "agrees": True}
                         for line in catalogue.get("hmc").quick.lines]}
    return {**record, **change}


def _results(outcomes, **key):
    from dltut import engine

    return json.dumps({"key": {"kind": "quick", "engine": engine.name(), "mode": None,
                               "floatX": None, **key}, "outcomes": outcomes})


@pytest.mark.parametrize("text, message", [
    ('{"key": ', "unreadable (Expecting value"),
    ("[" * 100_000, "unreadable (nested too deeply)"),
    ("[1, 2]", "no key and outcomes in it"),
    ('{"key": {}, "outcomes": []}', "no key and outcomes in it"),
    (_results({"hmc": [1]}), "outcome 'hmc': not an outcome"),
    (_results({"hmc": _outcome(seconds="1")}), "outcome 'hmc': seconds '1'"),
    (_results({"hmc": _outcome(name="cA")}), "outcome 'hmc': name 'cA'"),
    (_results({"hmc": _outcome(checks=[{"expected": 1}])}), "outcome 'hmc': checks[0]"),
    (_results({"hmc": _outcome(errors=[1.0, 2.0])}), "errors [1.0, 2.0] in a --quick suite"),
])
def test_a_hostile_results_file_is_one_line_before_anything(tmp_path, monkeypatch, capsys, text,
                                                            message):
    """The results JSON a suite reads back, spoilt: exit 2 with one line naming it, nothing run
    or written; --fresh runs over it."""
    def no_run(*args, **kwargs):
        raise AssertionError("a tutorial ran")

    monkeypatch.setattr(suite, "run_quick", no_run)
    (tmp_path / "suite.json").write_text(text)
    assert main(["suite", "--only", "hmc", "--report", str(tmp_path / "suite.md")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"dltut suite: error: {tmp_path / 'suite.json'}: ") and message in line \
        and line.endswith("remove it, or run with --fresh to replace it"), line
    assert sorted(os.listdir(tmp_path)) == ["suite.json"]
    ran = []
    monkeypatch.setattr(suite, "run_quick", lambda name, folder, mode=None: ran.append(name) or
                        suite.Outcome.from_dict(_outcome()))
    assert main(["suite", "--only", "hmc", "--fresh", "--report", str(tmp_path / "suite.md")]) == 0
    assert ran == ["hmc"]


@pytest.mark.parametrize("flags, words", [
    (["--workers", "-3"], ["--workers -3: give a positive number of processes"]),
    (["--workers", "0", "--backend", "pool"], ["--workers 0"]),
    (["--report", "file/suite.md"], ["--report file/suite.md", "is a file, not a folder"]),
    (["--report", "suite.json/"], ["--report suite.json/: give a .md file"]),
])
def test_bad_suite_flags_are_one_line_before_anything(tmp_path, flags, words):
    from hostile import assert_refused, run_dltut

    (tmp_path / "file").write_text("")
    assert_refused(run_dltut(["suite", "--only", "hmc", *flags], tmp_path), *words)
    assert sorted(os.listdir(tmp_path)) == ["file"]


def test_a_hostile_results_file_on_the_command_line(tmp_path):
    from hostile import assert_refused, run_dltut

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "suite.json").write_text(_results({"hmc": _outcome(errors="x")}))
    assert_refused(run_dltut(["suite", "--only", "hmc"], tmp_path),
                   f"{os.path.join('out', 'suite.json')}: outcome 'hmc': errors 'x'")


def test_a_report_in_a_missing_folder_is_made_and_a_read_only_one_refused(tmp_path, monkeypatch):
    """The one rule of output places: a missing folder is created; one that cannot be written
    is one line, exit 2, before anything runs (a read-only mount: root too)."""
    from hostile import assert_refused, run_dltut_read_only

    monkeypatch.setattr(suite, "run_quick", lambda name, folder, mode=None:
                        suite.Outcome.from_dict(_outcome()))
    assert main(["suite", "--only", "hmc", "--report", str(tmp_path / "a" / "b" / "r.md")]) == 0
    assert (tmp_path / "a" / "b" / "r.md").is_file()
    for report in (tmp_path / "ro" / "r.md", tmp_path / "ro" / "new" / "r.md"):
        refused = run_dltut_read_only(tmp_path / "ro", ["suite", "--only", "hmc", "--report",
                                                        report], tmp_path)
        if refused is None:
            pytest.skip("no mount namespaces here (unshare)")
        assert_refused(refused, f"--report {report}", "Read-only file system")


def test_verdicts_of_published_error_rates():
    se = suite.standard_error(1.65)  # 0.127 points
    assert suite.verdict_of(1.65, 1.65) == "equal"
    assert suite.verdict_of(1.6504, 1.65) == "equal"  # the published digits
    assert suite.verdict_of(1.65 + 1.9 * se, 1.65) == "within noise"
    assert suite.verdict_of(1.65 - 2.1 * se, 1.65) == "differs"
    assert suite.verdict_of(7.489583, 7.489583) == "equal"


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


def test_every_tutorial_has_quick_lines():
    """dltut suite --quick covers every tutorial: the sequence and segmentation ones on the made
    data shipped with dltut (their settings name it: no file to fetch)."""
    assert len(catalogue.TUTORIALS) >= 14
    assert [t.name for t in catalogue.TUTORIALS.values() if t.quick is None] == []
    quick = {name: catalogue.get(name).quick.settings for name in ("rnnslu", "lstm", "rnnrbm")}
    assert quick["rnnslu"]["param"]["data"] == "toy" and quick["lstm"]["dataset"] == "toy"
    assert quick["rnnrbm"]["toy"] is True and catalogue.get("fcn1D").quick.settings["toy"]


def _quick_suite_in_c_mode(tmp_path, monkeypatch, capsys, expected):
    """Run ``dltut suite`` on the tutorials of ``expected`` ({name: lines}) in mode c: each
    prints the original's recorded lines, its files go to the suite's scratch folder (none where
    it runs), and the terminal gets the table."""
    monkeypatch.chdir(tmp_path)
    report = tmp_path / "out" / "suite.md"
    assert main(["suite", "--only", *expected, "--mode", "c", "--report",
                 str(report)]) == 0, report.read_text()
    text = report.read_text()
    for name, total in expected.items():
        assert f"| {name} | " in text and f"| equal | {total}/{total} |" in text
        assert len(catalogue.get(name).quick.lines) == total
    assert sorted(os.listdir(tmp_path)) == ["out"]
    out = capsys.readouterr().out
    table = out[out.index("tutorial  verdict  lines equal  seconds"):].splitlines()
    assert [row.split()[:3] for row in table[2:2 + len(expected)]] == [
        [name, "equal", f"{total}/{total}"] for name, total in expected.items()]


def test_the_quick_suite_prepares_lstm_on_the_shipped_data(tmp_path, monkeypatch, capsys):
    """lstm, its first weights prepared with the original's column signs in the run's folder."""
    _quick_suite_in_c_mode(tmp_path, monkeypatch, capsys, {"lstm": 25})


@pytest.mark.slow  # CI time: each tutorial's own tests compare these lines; lstm's above
def test_the_quick_suite_checks_the_sequence_tutorials_on_the_shipped_data(tmp_path, monkeypatch,
                                                                            capsys):
    _quick_suite_in_c_mode(tmp_path, monkeypatch, capsys, {"rnnslu": 5, "lstm": 25, "rnnrbm": 4})


def test_the_suite_says_why_its_figure_is_skipped(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(suite, "run_quick", lambda name, folder, mode=None: suite.Outcome(
        name, {}, 1.5, [suite.Check(line, line, 0.0, True)
                        for line in catalogue.get(name).quick.lines[:1]] + [
            suite.Check("a line", None, float("inf"), False)]))
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    report = tmp_path / "suite.md"
    assert main(["suite", "--only", "hmc", "--report", str(report)]) == 1
    out = capsys.readouterr().out
    assert [line.split() for line in out.splitlines() if line.startswith("hmc ")] == [
        ["hmc", "differs", "1/2", "1.5"]]
    assert out.rstrip().endswith(f"figure {tmp_path / 'suite'}.png skipped: matplotlib is missing "
                                 "(import of matplotlib halted; None in sys.modules): pip "
                                 "install 'dltut[plot]'")
    assert not (tmp_path / "suite.png").exists()


def test_a_run_the_machine_lacks_the_memory_for_is_skipped_saying_why(tmp_path, monkeypatch,
                                                                     capsys):
    """fcn8's quick run (VGG-16 in float64) on a machine said to have 1 GiB available: the
    tutorial refuses before it compiles, and the suite reports the run skipped, with the reason,
    in its table, its report and its results (a suite started again runs it again)."""
    from dltut import fitting

    monkeypatch.setattr(fitting, "_available_bytes", lambda: 2 ** 30)
    report = tmp_path / "suite.md"
    assert main(["suite", "--only", "fcn8", "--report", str(report)]) == 1
    out = capsys.readouterr().out
    reason = ("FCN-8: 1.0 GiB of parameters (float64) need about 14 GiB of memory to train in "
              "mode c, and 1 GiB are available: use a machine with more memory, or --floatX "
              "float32 (half as much)")
    assert f"    fcn8: skipped: {reason}" in out
    assert [line.split() for line in out.splitlines() if line.startswith("fcn8 ")] == [
        ["fcn8", "skipped", "-", "-"]]
    assert f"| skipped: {reason} |" in report.read_text()
    saved = json.loads((tmp_path / "suite.json").read_text())["outcomes"]["fcn8"]
    assert saved["skipped"] == reason and saved["failure"] is None
    monkeypatch.setattr(suite, "run_quick", lambda name, folder, mode=None: suite.Outcome(
        name, {}, 1.0, [suite.Check(line, line, 0.0, True)
                        for line in catalogue.get(name).quick.lines]))
    assert main(["suite", "--only", "fcn8", "--report", str(report)]) == 0  # run again
