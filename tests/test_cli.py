"""The common command line, through scripts/logreg.py: bad settings and a missing model file are
one line on stderr and exit status 2, before any model file is written; scripts/dA.py: its own
flags, the tutorial's lines and pictures; logistic_cg.py, cA.py, rbm.py and hmc.py: theirs."""

import os
import re

import pytest

from conftest import run_script


@pytest.mark.parametrize("args, message", [
    (["--batch-size", "700"], "batch_size 700 is larger than the training set (600 examples)"),
    (["--learning-rate", "-1"], "learning_rate must be a finite number > 0, got -1.0 "
                                 "(--learning-rate)"),
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
    for flag in ("--out", "--patience", "--n-epochs", "predict"):
        assert flag not in words
    assert {"--checkpoint", "--checkpoint-every", "--resume"} <= words  # its epochs'
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
    assert bad.returncode == 2 and "training_epochs must be an integer >= 1, got 0" in bad.stderr


def test_logistic_cg_and_cA_scripts_take_their_own_flags():
    from dltut.cli import build_parser

    words = set(re.findall(r"--[\w-]+|\w+", build_parser("logistic_cg").format_help()))
    assert {"--n-epochs", "--batch-size", "--dataset", "--floatX", "--mode", "--device"} <= words
    for flag in ("--learning-rate", "--patience", "--fused", "--out", "--checkpoint", "predict"):
        assert flag not in words
    assert build_parser("logistic_cg").parse_args([]).n_epochs == 50
    args = build_parser("cA").parse_args([])
    assert (args.learning_rate, args.training_epochs, args.batch_size, args.output_folder,
            args.contraction_level, args.fixed_penalty) == (0.01, 20, 10, "cA_plots", 0.1, False)
    assert build_parser("cA").parse_args(["--fixed-penalty", "--no-fused"]).fixed_penalty


def test_logistic_cg_script_prints_the_tutorial_lines(tiny_mnist, tmp_path):
    run = run_script("logistic_cg.py", "--n-epochs", "2", "--batch-size", "100", "--dataset",
                     tiny_mnist, "--mode", "c", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "Optimizing using scipy.optimize.fmin_cg..." in lines
    assert len([line for line in lines if line.startswith("validation error ")]) == 2
    assert any(line.startswith("Optimization complete with best validation score of ")
               for line in lines)
    bad = run_script("cA.py", "--contraction-level", "-1", "--dataset", tiny_mnist, cwd=tmp_path)
    assert bad.returncode == 2 and "contraction_level must be a finite number >= 0, got -1.0" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_hmc_script_takes_its_own_flags():
    from dltut.cli import build_parser

    words = set(re.findall(r"--[\w-]+|\w+", build_parser("hmc").format_help()))
    for flag in ("--burnin", "--n-samples", "--dim", "--floatX", "--mode", "--engine"):
        assert flag in words
    # no data, no training, no GPU
    for flag in ("--dataset", "--learning-rate", "--out", "--device", "--tf32", "--fused",
                 "predict"):
        assert flag not in words
    args = build_parser("hmc").parse_args([])
    assert (args.burnin, args.n_samples, args.dim) == (1000, 1000, 5)


def test_hmc_script_prints_the_tutorial_lines(tmp_path):
    run = run_script("hmc.py", "--burnin", "2", "--n-samples", "3", "--mode", "c",
                     "--floatX", "float64", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "****** TARGET VALUES ******"
    assert lines[1].startswith("target mean: [6.96469186 2.86139335 ")  # RandomState(123)
    for start in ("empirical mean:  [", "empirical_cov:", "final stepsize 0.00",
                  "final acceptance_rate 0."):
        assert any(line.startswith(start) for line in lines), start
    assert not list(tmp_path.iterdir())  # it writes nothing


def test_hmc_script_bad_settings(capsys):
    from dltut.cli import main

    assert main("hmc", ["--n-samples", "1"]) == 2
    assert capsys.readouterr().err == ("hmc.py: error: n_samples must be an integer >= 2 (draws "
                                       "kept, to estimate a covariance), got 1\n")


def test_SdA_script_takes_the_tutorial_settings_and_a_smaller_network():
    from dltut.cli import build_parser

    args = build_parser("SdA").parse_args([])
    assert (args.finetune_lr, args.pretraining_epochs, args.pretrain_lr, args.training_epochs,
            args.batch_size) == (0.1, 15, 0.001, 1000, 1)
    assert list(args.hidden_layers_sizes) == [1000, 1000, 1000]
    assert list(args.corruption_levels) == [0.1, 0.2, 0.3]
    args = build_parser("SdA").parse_args(["predict", "--hidden-layers-sizes", "30", "20",
                                           "--corruption-levels", "0.1", "0.25"])
    assert (args.hidden_layers_sizes, args.corruption_levels, args.command) == \
        ([30, 20], [0.1, 0.25], "predict")


def test_SdA_script_pretrains_finetunes_and_resumes(tiny_mnist, tmp_path):
    small = ["--pretraining-epochs", "1", "--training-epochs", "1", "--batch-size", "100",
             "--hidden-layers-sizes", "30", "20", "--corruption-levels", "0.1", "0.2",
             "--dataset", str(tiny_mnist), "--floatX", "float64"]
    run = run_script("SdA.py", *small, "--checkpoint", "ck.npz", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert [line.split(", cost")[0] for line in lines if line.startswith("Pre-training")] == \
        ["Pre-training layer 0, epoch 0", "Pre-training layer 1, epoch 0"]
    assert "... finetunning the model" in lines
    assert any(line.startswith("Optimization complete with best validation score of ")
               for line in lines)
    assert (tmp_path / "out" / "SdA.npz").exists() and (tmp_path / "ck.npz").exists()
    predicted = run_script("SdA.py", "predict", "--count", "3", "--dataset", str(tiny_mnist),
                           cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    assert "Predicted values for the first 3 examples in test set:" in predicted.stdout
    # the checkpoint of a finished run: resuming it with more epochs fine-tunes further
    more = run_script("SdA.py", *[a if a != "1" or i != 3 else "2" for i, a in enumerate(small)],
                      "--resume", "ck.npz", cwd=tmp_path)
    assert more.returncode == 0, more.stderr
    assert "Pre-training layer" not in more.stdout
    assert "epoch 2, minibatch 6/6, validation error " in more.stdout


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


def test_DBN_script_takes_the_tutorial_settings():
    from dltut.cli import build_parser

    args = build_parser("DBN").parse_args([])
    assert (args.finetune_lr, args.pretraining_epochs, args.pretrain_lr, args.k,
            args.training_epochs, args.batch_size) == (0.1, 100, 0.01, 1, 1000, 10)
    assert list(args.hidden_layers_sizes) == [1000, 1000, 1000]
    words = set(re.findall(r"--[\w-]+|\w+", build_parser("DBN").format_help()))
    assert {"--checkpoint", "--resume", "--out", "--plot", "--filters", "predict"} <= words


@pytest.mark.parametrize("script, args, message", [
    ("mlp", ["--n-hidden", "0"], "n_hidden must be an integer >= 1, got 0 (--n-hidden)"),
    ("mlp", ["--L2-reg", "-1"], "L2_reg must be a finite number >= 0, got -1.0 (--L2-reg)"),
    ("mlp", ["--seed", "-3"], "seed must be an integer >= 0 and < 4294967296, got -3 (--seed)"),
    ("logreg", ["--learning-rate", "nan"], "learning_rate must be a finite number > 0, got nan"),
    ("logreg", ["--learning-rate", "inf"], "learning_rate must be a finite number > 0, got inf"),
    ("logreg", ["--patience", "-1"], "patience must be an integer >= 1, got -1 (--patience)"),
    ("logreg", ["--checkpoint-every", "0"], "checkpoint_every must be an integer >= 1, got 0 "
                                            "(--checkpoint-every)"),
    ("logreg", ["predict", "--count", "-5"], "count must be an integer >= 1, got -5 (--count)"),
    ("logreg", ["predict", "--count", "0"], "count must be an integer >= 1, got 0 (--count)"),
    ("lenet", ["--nkerns", "20", "0"], "nkerns must be an integer >= 1, got 0 (--nkerns)"),
    ("SdA", ["--hidden-layers-sizes", "30", "0"], "hidden_layers_sizes must be an integer >= 1, "
                                                   "got 0 (--hidden-layers-sizes)"),
    ("SdA", ["--corruption-levels", "0.1", "1.5"], "corruption_levels must be a finite number "
                                                    ">= 0 and < 1.0, got 1.5"),
    ("DBN", ["--k", "0"], "k must be an integer >= 1, got 0 (--k)"),
    ("dA", ["--checkpoint-every", "-2"], "checkpoint_every must be an integer >= 1, got -2"),
    ("rbm", ["--n-chains", "0"], "n_chains must be an integer >= 1, got 0 (--n-chains)"),
    ("cA", ["--batch-size", "0"], "batch_size must be an integer >= 1, got 0 (--batch-size)"),
    ("logistic_cg", ["--n-epochs", "0"], "n_epochs must be an integer >= 1, got 0 (--n-epochs)"),
])
def test_a_number_out_of_range_is_refused_up_front(tmp_path, monkeypatch, capsys, script, args,
                                                   message):
    """Every numeric flag of the MNIST tutorials is checked against its range (catalogue.RANGES)
    before anything is read or built: one line naming the flag and the value, exit 2."""
    from dltut.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(script, args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{script}.py: error: {message}") and err.endswith(")\n")
    assert err.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_dA_refuses_an_existing_checkpoint_without_resume_or_overwrite(tmp_path, monkeypatch,
                                                                       capsys):
    from dltut.cli import build_parser, main

    assert build_parser("dA").parse_args(["--overwrite"]).overwrite
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ck.npz").write_bytes(b"a run's progress")
    assert main("dA", ["--checkpoint", "ck.npz"]) == 2
    assert capsys.readouterr().err == ("dA.py: error: checkpoint ck.npz exists: resume it with "
                                       "--resume ck.npz, or pass --overwrite to start again "
                                       "(overwrite=True)\n")
    assert os.listdir(tmp_path) == ["ck.npz"]


# ----------------------------------------------------------------------------------------------
# The sequence tutorials: --toy (the made data shipped with dltut) and where the real data is


# a user's install with no extra: the MIDI reader, the Moses tokenizer and matplotlib missing
_NO_EXTRAS = ("import sys; sys.modules.update(mido=None, sacremoses=None, matplotlib=None); "
              "from dltut.__main__ import main; sys.exit(main(sys.argv[1:]))")


def _dltut_without_extras(*args, cwd):
    import subprocess
    import sys

    from conftest import ROOT

    return subprocess.run([sys.executable, "-c", _NO_EXTRAS, *map(str, args)], cwd=cwd,
                          env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                          timeout=600)


def test_rnnrbm_toy_trains_with_no_extra_and_prints_the_originals_costs(tmp_path):
    """dltut run rnnrbm --toy: the shipped rolls and the quick settings (the original's reference
    run), in float64 and the C mode its numbers were printed in; samples written without mido."""
    from dltut import catalogue

    run = _dltut_without_extras("run", "rnnrbm", "--toy", "--floatX", "float64", "--mode", "c",
                                cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[lines.index("Epoch 1/2"):] == list(catalogue.get("rnnrbm").quick.lines)
    assert sorted(os.listdir(tmp_path)) == ["sample1.mid", "sample1.png", "sample2.mid",
                                            "sample2.png"]


@pytest.mark.slow  # a cold compile of the LSTM's graphs in a subprocess (about 20 s)
def test_lstm_toy_trains_with_no_extra(tmp_path):
    run = _dltut_without_extras("run", "lstm", "--toy", "--mode", "c", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "'dataset': 'toy'" in run.stdout and "imdb" not in run.stdout.split("\n")[0]
    assert "Early Stop!" in run.stdout and os.path.isfile(tmp_path / "lstm_model.npz")


def test_toy_defaults_are_the_quick_settings_and_flags_still_apply():
    """--toy changes the defaults to the catalogue's quick settings; a flag given wins."""
    from dltut import catalogue
    from dltut.cli import _COMMAND_LINES, build_parser, toy_defaults

    parser = build_parser("rnnrbm", "rnnrbm")
    args = parser.parse_args(["--toy", "--num-epochs", "3"])
    parser.set_defaults(**toy_defaults("rnnrbm", vars(args)))
    args = parser.parse_args(["--toy", "--num-epochs", "3"])
    assert (args.toy, args.n_hidden, args.n_hidden_recurrent, args.batch_size,
            args.num_epochs) == (True, 20, 10, 10, 3)
    lstm_parser = _COMMAND_LINES["lstm"][0]("lstm", "lstm")
    quick = catalogue.get("lstm").quick.settings
    assert toy_defaults("lstm", vars(lstm_parser.parse_args([]))) == quick
    slu = catalogue.get("rnnslu").quick.settings["param"]
    assert toy_defaults("rnnslu", vars(_COMMAND_LINES["rnnslu"][0]().parse_args([]))) == \
        {name: value for name, value in slu.items() if name != "data"}


@pytest.mark.parametrize("script, words", [
    ("rnnslu", ["http://lisaweb.iro.umontreal.ca/transfert/lisa/users/mesnilgr/atis/",
                "--toy"]),
    ("lstm", ["http://www.iro.umontreal.ca/~lisa/deep/data/imdb.pkl",
              "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
              "pip install 'dltut[imdb]'", "imdb_preprocess --download", "--toy"]),
    ("rnnrbm", ["http://www.iro.umontreal.ca/~lisa/deep/data/Nottingham.zip",
                "pip install 'dltut[midi]'", "--toy"]),
])
def test_help_says_where_the_data_comes_from_and_the_extra_it_needs(capsys, script, words):
    from dltut.cli import main
    from dltut.tutorials import imdb, rnnrbm, rnnslu

    with pytest.raises(SystemExit):
        main(script, ["--help"], prog=f"dltut run {script}")
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines
    for word in words:
        assert word in text
    # the same addresses as the modules' messages give
    assert {"rnnslu": rnnslu.ATIS_URL, "lstm": imdb.ORIGIN,
            "rnnrbm": rnnrbm.NOTTINGHAM_URL}[script] in text


def test_lstm_missing_data_names_the_extra_before_the_download(tmp_path, monkeypatch, capsys):
    from dltut.cli import main

    monkeypatch.chdir(tmp_path)
    assert main("lstm", ["--mode", "c"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "imdb.pkl: no such file" in err
    assert err.index("pip install 'dltut[imdb]'") < err.index("imdb_preprocess --download")
    assert "--toy" in err


def test_rnnslu_toy_with_a_dataset_is_one_line(tmp_path, monkeypatch, capsys):
    from dltut.cli import main

    monkeypatch.chdir(tmp_path)
    assert main("rnnslu", ["--toy", "--dataset", "folds"]) == 2
    err = capsys.readouterr().err
    assert err == ("rnnslu.py: error: data 'toy' trains on a made fold (toy_fold): give no "
                   "dataset (--dataset), or data 'atis' (no --toy) to read it\n")
    assert not list(tmp_path.iterdir())
