"""The tutorials dltut has, in one place: what the command line, sweeps, batched groups, the
suite, the docs and the tests read about them.

Each ``Tutorial`` names its script (``scripts/NAME.py``, ``dltut run NAME``), its module in
``dltut.tutorials`` (named as the original file), the original file in lisa-lab's
DeepLearningTutorials, its entry point, the hyperparameters that are flags, and what its runs are
checked against: the original code's printed lines under small settings (``quick``, for
``dltut suite --quick``) and the published figures (``published``, for ``dltut suite --full``).
The package's names (``dltut.test_mlp``, ``dltut.MLP``), the models a model file can describe
(``dltut.registry``) and the command line's flags (``dltut.cli``) are read from here.

Defaults are not written here: they are the entry point's own (``defaults(name)``), so the two
cannot disagree. This module imports nothing of dltut (``dltut.registry``, below the tutorials,
reads it); a tutorial's module is imported when something asks for its entry point.
"""

import dataclasses
import importlib
import inspect
import math

# the hyperparameters of every supervised tutorial (early stopping, a best model)
COMMON = ("learning_rate", "n_epochs", "batch_size", "patience")


@dataclasses.dataclass(frozen=True)
class Quick:
    """A small run whose printed lines are the original code's, in float64 on the CPU.

    ``settings`` are the entry point's keyword arguments (code/test.py's where the original's
    numbers were taken with them); each of ``lines`` must be printed, its numbers equal to
    ``rel`` (0: the printed digits) and its words exactly. ``source`` says how the original ran.
    """

    settings: dict
    lines: tuple
    source: str
    rel: float = 0.0  # relative tolerance on the numbers of a line (0: equal as printed)
    # a function of dltut.suite (its _PREPARATIONS), called before the run as f(folder, settings,
    # **prepare_args) and returning settings to add (lstm: its first weights signed as the
    # original's, written into the run's folder); None: nothing to prepare
    prepare: str | None = None
    prepare_args: dict = dataclasses.field(default_factory=dict)
    mode: str | None = None  # the suite's mode for it unless --mode says (None: the default)


@dataclasses.dataclass(frozen=True)
class Published:
    """A published error rate: the best validation error and its test error, in percent."""

    validation: float | None
    test: float
    source: str  # the doc page and run that published it


@dataclasses.dataclass(frozen=True)
class Architecture:
    """A model a model file can describe (``dltut.registry``): its ``arch["model"]``, its class in
    the tutorial's module and the keyword the class takes its numpy rng by (None: draws nothing)."""

    name: str
    cls: str
    rng: str | None


@dataclasses.dataclass(frozen=True)
class Tutorial:
    name: str  # scripts/NAME.py and `dltut run NAME`
    module: str  # its module in dltut.tutorials, named as the original file
    entry: str  # the tutorial function
    original: str  # the original file in lisa-lab/DeepLearningTutorials
    flags: tuple  # the hyperparameters that are command-line flags (and a sweep may vary)
    summary: str  # one line for `dltut list`
    supervised: bool = False  # a classifier with early stopping: a best model, sweeps, predict
    quick: Quick | None = None  # the original's lines under small settings
    published: Published | None = None  # the published figures of a default run
    speed_2012: tuple | None = None  # code/test.py speed(): float32 seconds (i7-920 CPU, GTX 580)
    exports: tuple = ()  # the names of its module that `import dltut` gives
    architecture: Architecture | None = None  # the model its model files describe
    epochs: str = "n_epochs"  # the flag of the epochs it trains (a progress bar's length)
    # where its real data comes from, how to build it and the extra that needs (its --help);
    # None: MNIST, shipped with dltut
    data: str | None = None
    lists: dict = dataclasses.field(default_factory=dict)  # its flags of several values (nargs)


# in the tutorials' reading order (the original's doc/contents.txt), then the two code files its
# pages do not teach (logistic_cg, cA): `dltut list`, the suite and the site's sidebar follow it
TUTORIALS = {t.name: t for t in (
    Tutorial(
        "logreg", "logistic_sgd", "sgd_optimization_mnist", "code/logistic_sgd.py", COMMON,
        "logistic regression trained by minibatch SGD with early stopping", supervised=True,
        quick=Quick({"n_epochs": 10}, (
            "epoch 1, minibatch 83/83, validation error 12.458333 %",
            "     epoch 1, minibatch 83/83, test error of best model 12.375000 %",
            "epoch 5, minibatch 83/83, validation error 9.562500 %",
            "epoch 10, minibatch 83/83, validation error 8.750000 %",
            "     epoch 10, minibatch 83/83, test error of best model 8.666667 %",
            "Optimization complete with best validation score of 8.750000 %,with test "
            "performance 8.666667 %"),
            "logistic_sgd.py as it is, sgd_optimization_mnist(n_epochs=10) (code/test.py), "
            "floatX=float64 (float32 prints the same lines)"),
        published=Published(7.500000, 7.489583, "doc/logreg.txt: 74 epochs"),
        speed_2012=(6.4, 2.9), exports=("sgd_optimization_mnist", "LogisticRegression"),
        architecture=Architecture("logistic_regression", "LogisticRegression", None)),
    Tutorial(
        "mlp", "mlp", "test_mlp", "code/mlp.py", COMMON + ("L1_reg", "L2_reg", "n_hidden", "seed"),
        "multilayer perceptron: one tanh hidden layer under a logistic regression",
        supervised=True,
        quick=Quick({"n_epochs": 1}, (
            "epoch 1, minibatch 2500/2500, validation error 9.620000 %",
            "     epoch 1, minibatch 2500/2500, test error of best model 10.090000 %"),
            "mlp.py as it is, test_mlp(n_epochs=1) (code/test.py), floatX=float64 and float32"),
        published=Published(1.69, 1.65, "doc/mlp.txt: iteration 2070000"),
        speed_2012=(42.5, 19.0), exports=("test_mlp", "HiddenLayer", "MLP"),
        architecture=Architecture("mlp", "MLP", "rng")),
    Tutorial(
        "lenet", "convolutional_mlp", "evaluate_lenet5", "code/convolutional_mlp.py",
        COMMON + ("nkerns", "seed"),
        "LeNet5: two convolution + max-pooling layers, a tanh layer, a logistic regression",
        supervised=True,
        quick=Quick({"n_epochs": 1, "nkerns": (5, 5)}, (
            "epoch 1, minibatch 100/100, validation error 13.300000 %",
            "     epoch 1, minibatch 100/100, test error of best model 13.690000 %"),
            "convolutional_mlp.py as it is, evaluate_lenet5(n_epochs=1, nkerns=[5, 5]) "
            "(code/test.py), floatX=float64"),
        published=Published(0.91, 0.92, "doc/lenet.txt: iteration 17800 (GTX 480)"),
        speed_2012=(63.1, 5.8), exports=("evaluate_lenet5", "LeNetConvPoolLayer", "LeNet5"),
        architecture=Architecture("lenet5", "LeNet5", "rng")),
    Tutorial(
        "dA", "dA", "test_dA", "code/dA.py",
        ("learning_rate", "training_epochs", "batch_size", "output_folder", "seed"),
        "denoising autoencoder, without and with 30 % corruption",
        quick=Quick({"training_epochs": 1}, (
            "Training epoch 0, cost  63.28916942011223",
            "Training epoch 0, cost  81.76498578165103"),
            "dA.py (MRG_RandomStreams renamed MRG_RandomStream), test_dA(training_epochs=1) "
            "(code/test.py), floatX=float64", rel=1e-12),
        speed_2012=(71.0, 19.2), exports=("test_dA", "dA")),
    Tutorial(
        "SdA", "SdA", "test_SdA", "code/SdA.py",
        ("finetune_lr", "pretraining_epochs", "pretrain_lr", "training_epochs", "batch_size",
         "hidden_layers_sizes", "corruption_levels", "seed"),
        "stacked denoising autoencoders, pretrained layer by layer, then fine-tuned",
        supervised=True,
        quick=Quick({"pretraining_epochs": 1, "training_epochs": 1, "batch_size": 300}, (
            "Pre-training layer 0, epoch 0, cost 194.516149",
            "Pre-training layer 1, epoch 0, cost 695.487634",
            "Pre-training layer 2, epoch 0, cost 529.058440",
            "epoch 1, minibatch 166/166, validation error 14.848485 %",
            "     epoch 1, minibatch 166/166, test error of best model 15.727273 %"),
            "SdA.py (MRG_RandomStreams renamed), test_SdA(pretraining_epochs=1, "
            "training_epochs=1, batch_size=300) (code/test.py), floatX=float64"),
        published=Published(1.39, 1.30, "doc/SdA.txt: 36 epochs of fine-tuning"),
        speed_2012=(191.2, 11.2), exports=("test_SdA", "SdA"),
        architecture=Architecture("sda", "SdA", "numpy_rng"), epochs="training_epochs"),
    Tutorial(
        "rbm", "rbm", "test_rbm", "code/rbm.py",
        ("learning_rate", "training_epochs", "batch_size", "n_chains", "n_samples",
         "output_folder", "n_hidden", "seed"),
        "restricted Boltzmann machine trained with PCD-15, then sampled",
        quick=Quick({"training_epochs": 1, "batch_size": 300, "n_chains": 1, "n_samples": 1,
                     "n_hidden": 20}, (
            "Training epoch 0, cost is  -88.7215017688042",),
            "rbm.py (MRG_RandomStreams renamed), test_rbm(training_epochs=1, batch_size=300, "
            "n_chains=1, n_samples=1, n_hidden=20) (code/test.py), floatX=float64", rel=1e-9),
        speed_2012=(201.9, 122.0), exports=("test_rbm", "RBM")),
    Tutorial(
        "DBN", "DBN", "test_DBN", "code/DBN.py",
        ("finetune_lr", "pretraining_epochs", "pretrain_lr", "k", "training_epochs", "batch_size",
         "hidden_layers_sizes", "seed"),
        "deep belief network: stacked RBMs, pretrained layer by layer, then fine-tuned",
        supervised=True,
        quick=Quick({"pretraining_epochs": 1, "training_epochs": 1, "batch_size": 300}, (
            "Pre-training layer 0, epoch 0, cost  -165.613036644063",
            "Pre-training layer 1, epoch 0, cost  -620.4213006128427",
            "Pre-training layer 2, epoch 0, cost  -134.3891835013716",
            "epoch 1, minibatch 166/166, validation error 28.181818 %",
            "     epoch 1, minibatch 166/166, test error of best model 30.090909 %"),
            "DBN.py (MRG_RandomStreams renamed), test_DBN(pretraining_epochs=1, "
            "training_epochs=1, batch_size=300) (code/test.py), floatX=float64", rel=1e-12),
        published=Published(1.27, 1.34, "doc/DBN.txt: 46 supervised epochs"),
        speed_2012=(199.0, 7.3), exports=("test_DBN", "DBN"),
        architecture=Architecture("dbn", "DBN", "numpy_rng"), epochs="training_epochs"),
    Tutorial(
        "hmc", "hmc", "test_hmc", "code/hmc/test_hmc.py", ("burnin", "n_samples", "dim", "seed"),
        "Hybrid Monte Carlo sampling of a 5-dimensional Gaussian",
        quick=Quick({}, (
            "final stepsize 0.43232963747751657",
            "final acceptance_rate 0.9151492258633982"),
            "hmc.py (MRG_RandomStreams renamed) and test_hmc.py's sampler_on_nd_gaussian(burnin="
            "1000, n_samples=1000, dim=5), floatX=float64", rel=1e-12),
        exports=("test_hmc", "sampler_on_nd_gaussian", "HMC_sampler")),
    Tutorial(
        "rnnslu", "rnnslu", "main", "code/rnnslu.py", (),
        "Elman recurrent network for slot filling on ATIS, scored by conlleval's F1",
        quick=Quick({"param": {"data": "toy", "nhidden": 10, "emb_dimension": 8, "win": 3,
                               "nepochs": 6}}, (
            "NEW BEST: epoch 0 valid F1 14.17 best test F1 20.34",
            "NEW BEST: epoch 1 valid F1 43.15 best test F1 43.48",
            "NEW BEST: epoch 2 valid F1 47.35 best test F1 45.69",
            "NEW BEST: epoch 3 valid F1 64.71 best test F1 66.67",
            "NEW BEST: epoch 4 valid F1 68.85 best test F1 72.57"),
            "rnnslu.py (its valid/test label and word maps made lists for Python 3) on "
            "toy_fold(300, 60, 60) pickled as atis.fold3.pkl.gz, main(param) with nhidden=10, "
            "emb_dimension=8, win=3, nepochs=6, theano-pymc 1.1.2, floatX=float64, "
            "conlleval.pl (tests/test_rnnslu.py)"),
        exports=("RNNSLU", "atisfold"),
        data="The ATIS folds (atis.fold0-4.pkl.gz) came from "
             "http://lisaweb.iro.umontreal.ca/transfert/lisa/users/mesnilgr/atis/ (the "
             "tutorial's data/download.sh); put them in ./data or $ATISDATA, or give --dataset. "
             "They need no extra. --toy trains on a made fold instead (rnnslu.toy_fold), offline."),
    Tutorial(
        "lstm", "lstm", "train_lstm", "code/lstm.py", (),
        "LSTM sentiment classifier of IMDB movie reviews (mean-pooled states, dropout)",
        quick=Quick(
            {"dim_proj": 16, "n_words": 100, "maxlen": 30, "batch_size": 16,
             "valid_batch_size": 64, "validFreq": 5, "dispFreq": 2, "saveFreq": 7,
             "max_epochs": 4, "test_size": 50, "patience": 2, "dataset": "toy"},
            tuple("""\
Epoch  0 Update  2 Cost  0.6931422523699929
Epoch  0 Update  4 Cost  0.6933456652204003
Train  0.5217391304347826 Valid  0.19999999999999996 Test  0.43999999999999995
Epoch  0 Update  6 Cost  0.6932902214856801
Saving...
Epoch  0 Update  8 Cost  0.6935522708227528
Epoch  0 Update  10 Cost  0.6931304487942528
Train  0.5217391304347826 Valid  0.19999999999999996 Test  0.43999999999999995
Epoch  0 Update  12 Cost  0.6920751684689919
Seen 184 samples
Epoch  1 Update  14 Cost  0.6949737892233411
Saving...
Train  0.4782608695652174 Valid  0.8 Test  0.56
Epoch  1 Update  16 Cost  0.6976963929551753
Epoch  1 Update  18 Cost  0.6921771440583908
Epoch  1 Update  20 Cost  0.6910977793931168
Train  0.4782608695652174 Valid  0.8 Test  0.56
Saving...
Epoch  1 Update  22 Cost  0.6868041670098437
Epoch  1 Update  24 Cost  0.6932580949727959
Seen 184 samples
Train  0.4782608695652174 Valid  0.8 Test  0.56
Early Stop!
Seen 16 samples
Train  0.5217391304347826 Valid  0.19999999999999996 Test  0.43999999999999995""".splitlines()),
            "lstm.py and imdb.py (get_minibatches_idx's zip made a list for Python 3, "
            "MRG_RandomStreams renamed) on the made imdb.pkl (dltut/toy/imdb.pkl), "
            "train_lstm(dim_proj=16, n_words=100, maxlen=30, batch_size=16, "
            "valid_batch_size=64, validFreq=5, dispFreq=2, saveFreq=7, max_epochs=4, "
            "test_size=50, patience=2), theano-pymc 1.1.2, floatX=float64; dltut starts from "
            "its own draws with the orthogonal blocks' column signs of the original's "
            "(numpy 1.23's SVD) (tests/test_lstm.py)", rel=1e-9,
            prepare="write_signed_init",
            prepare_args={"signs": {
                "lstm_W": "-++---+++++++----+--+--++--++-+--+-+++--+++++++--+-----+++----+-",
                "lstm_U": "+++-+++-+--+-----++++-+-++--+-+-+-+-++++-+-+-+---+-+--+--++--+++",
            }}),
        exports=("train_lstm",),
        data="The tutorial's imdb.pkl came from http://www.iro.umontreal.ca/~lisa/deep/data/"
             "imdb.pkl; give it with --data-path. Or build an .npz from the Large Movie Review "
             "Dataset (https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz), which "
             "needs the extra dltut[imdb] (sacremoses): pip install 'dltut[imdb]', then python "
             "-m dltut.tutorials.imdb_preprocess --download aclImdb_v1.tar.gz imdb.npz. --toy "
             "trains on made reviews shipped with dltut instead (dltut/toy/imdb.pkl), offline."),
    Tutorial(
        "rnnrbm", "rnnrbm", "test_rnnrbm", "code/rnnrbm.py",
        ("batch_size", "num_epochs", "data_dir", "samples", "n_hidden", "n_hidden_recurrent",
         "seed", "toy"),
        "RNN-RBM: a recurrent network conditioning an RBM, trained on polyphonic music (MIDI)",
        quick=Quick({"toy": True, "n_hidden": 20, "n_hidden_recurrent": 10, "batch_size": 10,
                     "num_epochs": 2}, (
            "Epoch 1/2", "-60.775651458279285", "Epoch 2/2", "-60.04130638967875"),
            "rnnrbm.py (MRG_RandomStreams renamed) on the made piano rolls of "
            "dltut/toy/rolls.npz (rnnrbm.toy_rolls, as MIDI files a.mid, b.mid, c.mid through a "
            "stand-in midiread), RnnRbm(n_hidden=20, n_hidden_recurrent=10).train(batch_size=10, "
            "num_epochs=2), theano-pymc 1.1.2, floatX=float64 (tests/test_rnnrbm.py)",
            rel=1e-12),
        exports=("test_rnnrbm", "RnnRbm"),
        data="The Nottingham folk tunes (MIDI) came from "
             "http://www.iro.umontreal.ca/~lisa/deep/data/Nottingham.zip (the tutorial's "
             "data/download.sh); unzip it so that data/Nottingham/train/*.mid exist, or give "
             "--data-dir. Reading MIDI needs the extra dltut[midi] (mido): pip install "
             "'dltut[midi]'. --toy trains on made piano rolls shipped with dltut instead "
             "(dltut/toy/rolls.npz), offline."),
    Tutorial(
        "fcn8", "fcn8", "train_fcn8", "code/fcn_2D_segm/train_fcn8.py",
        ("learning_rate", "weight_decay", "num_epochs", "max_patience", "batch_size",
         "crop_size", "early_stop_class", "seed", "data_path", "toy"),
        "FCN-8 (VGG-16 with skip connections) segments the polyps in colonoscopy frames",
        quick=Quick({"toy": True, "num_epochs": 4, "batch_size": [1, 1, 1],
                     "crop_size": [32, 48]}, (
            "EPOCH 0: Avg epoch training cost train 0.692910, cost val 0.692526, acc val "
            "0.524667, jacc val class 0 0.480321, jacc val class 1 0.152200, jacc val 0.316260",
            "EPOCH 1: Avg epoch training cost train 0.692034, cost val 0.691288, acc val "
            "0.521200, jacc val class 0 0.477216, jacc val class 1 0.149455, jacc val 0.313336",
            "EPOCH 2: Avg epoch training cost train 0.690793, cost val 0.690133, acc val "
            "0.529333, jacc val class 0 0.486321, jacc val class 1 0.151034, jacc val 0.318678",
            "EPOCH 3: Avg epoch training cost train 0.689512, cost val 0.688906, acc val "
            "0.543467, jacc val class 0 0.502904, jacc val class 1 0.151635, jacc val 0.327269",
            "FINAL MODEL: err test  0.688004, acc test 0.550400, jacc test class 0  0.526005, "
            "jacc test class 1 0.102714, jacc test 0.314360"),
            "train_fcn8.py's train('polyps', num_epochs=4, batch_size=[1, 1, 1], its command "
            "line's other settings, a 32x48 crop) with Lasagne 5d3c63cb and dataset_loaders on "
            "the made polyps of dltut/toy/polyps912 taken in name order, after "
            "numpy.random.seed(1234) (benchmarks/segm_original.py, part fcn8_train), "
            "theano-pymc 1.1.2, floatX=float64",
            mode="c"),  # VGG-16 in float64: about 15 GiB in C mode, 29 in JAX mode
        exports=("train_fcn8", "buildFCN8"), epochs="num_epochs",
        lists={"batch_size": 3, "crop_size": 2},
        data="The polyps (EndoScene's 912 colonoscopy frames, polyps_split7.zip) are shared on "
             "Google Drive (https://drive.google.com/file/d/0B_60jvsCt1hhZWNfcW4wbHE5N3M/view), "
             "which dltut cannot download: fetch the zip with a browser, unzip it and put the "
             "folder holding train/, valid/ and test/ (each with images/*.bmp and masks2/*.tif) "
             "at data/polyps912, or give its path with --data-path. --toy trains on made frames "
             "shipped with dltut instead (dltut/toy/polyps912), offline; at VGG-16's width it "
             "needs about 12 GiB of memory in float32 on those, 15 on frames of the real size, "
             "and says so before it starts where the machine has less."),
    Tutorial(
        "fcn1D", "fcn1D", "train_fcn1D", "code/cnn_1D_segm/train_fcn1D.py",
        ("learning_rate", "weight_decay", "num_epochs", "max_patience", "batch_size",
         "data_path", "toy"),
        "a 1-D fully convolutional network labels the cortical layers along rays of BigBrain",
        quick=Quick({"toy": True, "num_epochs": 4, "batch_size": [8, 8, 1]}, (
            "EPOCH 0: Avg cost train 2.110225, acc train 0.577917, cost val 1017.670102, acc val "
            "0.405625, jacc val per class ['0: 0.517209', '1: 0.000000', '2: 0.000000', '3: "
            "0.265710', '4: 0.000000', '5: 0.008876', '6: 0.050943'], jacc val 0.120391",
            "EPOCH 1: Avg cost train 1.494889, acc train 0.794583, cost val 1040.801804, acc val "
            "0.558125, jacc val per class ['0: 0.379942', '1: 0.407867', '2: 0.000000', '3: "
            "0.512755', '4: 0.000000', '5: 0.455326', '6: 0.372703'], jacc val 0.304085",
            "EPOCH 2: Avg cost train 1.414927, acc train 0.810486, cost val 170.886797, acc val "
            "0.549063, jacc val per class ['0: 0.500411', '1: 0.428904', '2: 0.000000', '3: "
            "0.451351', '4: 0.000000', '5: 0.307420', '6: 0.157212'], jacc val 0.263614",
            "saving best (and last) model",
            "EPOCH 3: Avg cost train 1.323947, acc train 0.842847, cost val 46.873255, acc val "
            "0.517188, jacc val per class ['0: 0.520292', '1: 0.198767', '2: 0.000000', '3: "
            "0.549495', '4: 0.000000', '5: 0.000000', '6: 0.311047'], jacc val 0.225657"),
            "train_fcn1D.py's train('cortical_layers', num_epochs=4, batch_size=[8, 8, 1]) with "
            "Lasagne 5d3c63cb and dataset_loaders on the made rays of dltut/toy/cortical_layers, "
            "its final_reshape to (-1, n_classes) (benchmarks/segm_original.py, part "
            "fcn1d_one_update: one update of the running averages per training step; as it is, "
            "Theano updates them twice a step and once a validation step, and only the "
            "validation numbers differ), theano-pymc 1.1.2, floatX=float64"),
        exports=("train_fcn1D",), epochs="num_epochs", lists={"batch_size": 3},
        data="The cortical-layer rays (a preliminary BigBrain release, TrainingData190417.tar.gz) "
             "are shared on Google Drive (https://drive.google.com/file/d/"
             "0B3tbeSUS2FsVOVlIamlDdkNBQUE/), which dltut cannot download: fetch the archive "
             "with a browser, unpack it, rename the extracted folder 6layers_segmentation and "
             "put it in data/cortical_layers, or give its parent folder with --data-path. --toy "
             "trains on made rays shipped with dltut instead (dltut/toy/cortical_layers), "
             "offline."),
    Tutorial(
        "unet", "unet", "train_unet", "code/unet/train_unet.py",
        ("learning_rate", "weight_decay", "num_epochs", "max_patience", "batch_size",
         "early_stop_class", "base_n_filters", "seed", "data_path", "toy"),
        "U-Net segments the ISBI 2012 electron-microscopy stacks into cells and membranes",
        quick=Quick({"toy": True, "num_epochs": 4, "base_n_filters": 8}, (
            "EPOCH 0: Avg epoch training cost train 0.884282, cost val 0.791901, acc val "
            "0.581934, jacc val class 0  0.131202, jacc val class 1 0.553760, jacc val 0.342481",
            "EPOCH 1: Avg epoch training cost train 0.840428, cost val 0.839480, acc val "
            "0.569873, jacc val class 0  0.166604, jacc val class 1 0.529409, jacc val 0.348006",
            "EPOCH 2: Avg epoch training cost train 0.807573, cost val 0.906477, acc val "
            "0.553711, jacc val class 0  0.195493, jacc val class 1 0.499425, jacc val 0.347459",
            "EPOCH 3: Avg epoch training cost train 0.771138, cost val 0.967838, acc val "
            "0.532764, jacc val class 0  0.206814, jacc val class 1 0.467946, jacc val 0.337380"),
            "train_unet.py's train('em', learn_step=0.0001, weight_decay=0.0, num_epochs=4, "
            "batch_size=[5, 5, 1]) (its command line's settings) with build_UNet's "
            "base_n_filters=8 and its augmentation's crop and warp scaled to the made 64x64 "
            "stacks of dltut/toy/isbi_em_stacks (crop_size (32, 32), warp_sigma 1.25), after "
            "numpy.random.seed(1234), with Lasagne 5d3c63cb, dataset_loaders (no fetcher "
            "thread) and SimpleITK 2.5.7 (benchmarks/segm_original.py, part unet_train), "
            "theano-pymc 1.1.2, floatX=float64"),
        exports=("train_unet", "build_UNet"), epochs="num_epochs", lists={"batch_size": 3},
        data="The ISBI 2012 EM stacks (train-volume.tif, train-labels.tif, test-volume.tif) come "
             "from the challenge's site, http://brainiac2.mit.edu/isbi_challenge/ (register "
             "there): put them in data/isbi_em_stacks, or give their folder with --data-path "
             "(dltut.tutorials.isbi_em_stacks.download fetches them where the site allows it). "
             "The elastic deformation needs no extra: dltut computes SimpleITK's B-spline warp. "
             "--toy trains on made stacks shipped with dltut instead "
             "(dltut/toy/isbi_em_stacks), offline."),
    Tutorial(
        "logistic_cg", "logistic_cg", "cg_optimization_mnist", "code/logistic_cg.py",
        ("n_epochs", "batch_size"), "logistic regression fitted by scipy's conjugate gradients",
        quick=Quick({"n_epochs": 10}, (
            "validation error 29.989583 %", "validation error 14.291667 %",
            "validation error 11.531250 %",
            "Optimization complete with best validation score of 11.531250 %, with test "
            "performance 11.635417 %"),
            "logistic_cg.py as it is, cg_optimization_mnist(n_epochs=10) (code/test.py), "
            "floatX=float64, scipy 1.11.4"),
        speed_2012=(14.7, 7.6), exports=("cg_optimization_mnist",)),
    Tutorial(
        "cA", "cA", "test_cA", "code/cA.py",
        ("learning_rate", "training_epochs", "batch_size", "output_folder", "contraction_level",
         "fixed_penalty", "seed"),
        "contractive autoencoder (the original's penalty, or --fixed-penalty)",
        quick=Quick({"training_epochs": 1}, (
            "Training epoch 0, reconstruction cost  589.3672383224493  jacobian norm  "
            "20.999259101134292",),
            "cA.py as it is, test_cA(training_epochs=1), floatX=float64", rel=1e-12),
        exports=("test_cA", "cA")),
)}
# (logreg and logistic_cg draw nothing, their weights start at zero: they have no --seed)

# what a flag's values are, where not int
TYPES = {"L1_reg": float, "L2_reg": float, "learning_rate": float, "output_folder": str,
         "contraction_level": float, "finetune_lr": float, "pretrain_lr": float,
         "corruption_levels": float, "data_dir": str, "samples": str, "weight_decay": float,
         "data_path": str}
LISTS = {"nkerns": 2, "hidden_layers_sizes": "+", "corruption_levels": "+",
         "samples": "+"}  # flags' nargs
# the range of a numeric flag where it is not the usual one (an int flag: a count or a size, >= 1;
# a float flag: a rate, finite and > 0): (least, below), least allowed, below not (None: no bound).
# A tutorial's own checks may be narrower (hmc's n_samples >= 2, rbm's n_chains below the test set)
RANGES = {"pretraining_epochs": (0, None), "burnin": (0, None), "seed": (0, 2**32),
          "L1_reg": (0.0, None), "L2_reg": (0.0, None), "contraction_level": (0.0, None),
          "corruption_levels": (0.0, 1.0), "weight_decay": (0.0, None),
          "early_stop_class": (0, None)}
SWITCHES = {  # hyperparameters that are on/off flags, off by default
    "toy": "train on the made data shipped with dltut instead of the tutorial's (offline, no "
           "extra), with the small settings of the original's reference run (its quick "
           "settings: flags given still apply)",
    "fixed_penalty": "divide the Jacobian penalty with / instead of the tutorial's // (whose "
                     "gradient is zero: the contraction never trains) and log the epoch's means",
}


def get(name):
    """The ``Tutorial`` called ``name``; a ValueError naming the choices otherwise."""
    try:
        return TUTORIALS[name]
    except KeyError:
        raise ValueError(f"no tutorial {name!r}: choose one of {', '.join(TUTORIALS)} "
                         "(dltut list)") from None


def check_value(name, value):
    """``value`` of the numeric flag ``name`` (each item, for a list flag) in its range
    (``RANGES``, else an int >= 1 or a finite float > 0); a ValueError naming it otherwise."""
    for item in value if isinstance(value, (list, tuple)) else [value]:
        least, below = RANGES.get(name, (1 if isinstance(item, int) else None, None))
        if isinstance(item, int):
            good = least <= item and (below is None or item < below)
            wanted = f"an integer >= {least}"
        else:
            good = math.isfinite(item) and (item > 0 if least is None else item >= least) \
                and (below is None or item < below)
            wanted = f"a finite number {'> 0' if least is None else f'>= {least:g}'}"
        if not good:
            raise ValueError(f"{name} must be {wanted}{'' if below is None else f' and < {below}'}"
                             f", got {item!r}")


def nargs(name, flag):
    """How many values the flag ``flag`` of the tutorial ``name`` takes (argparse's ``nargs``):
    the tutorial's own (``lists``), else every tutorial's (``LISTS``), else None: one."""
    return get(name).lists.get(flag, LISTS.get(flag))


def names(supervised=None):
    """The tutorials' names in catalogue order; only the supervised ones (or only the others)."""
    return [t.name for t in TUTORIALS.values() if supervised is None or t.supervised == supervised]


def module(name):
    """The tutorial's module in ``dltut.tutorials``."""
    return importlib.import_module(f"dltut.tutorials.{get(name).module}")


def function(name):
    """The tutorial's entry point."""
    return getattr(module(name), get(name).entry)


def defaults(name):
    """``{argument: default}`` of the tutorial's entry point."""
    return {arg: p.default for arg, p in inspect.signature(function(name)).parameters.items()
            if p.kind is not p.VAR_KEYWORD}


def hyperparameters(name):
    """``{name: default}`` of what the tutorial's entry point takes besides its data and run
    options: what a sweep may vary, and a run of ``dltut.batched`` may set."""
    return {arg: default for arg, default in defaults(name).items() if arg != "dataset"}


def uses_data(name):
    """Whether the tutorial reads MNIST (its entry point takes ``dataset``)."""
    return "dataset" in defaults(name)


def run_id(settings):
    """A run's id (a sweep's folder, a plot's label): its settings as ``name=value`` joined by
    commas (``"default"`` if none)."""
    return ",".join(f"{name}={value_text(value)}" for name, value in settings.items()) or "default"


def value_text(value):
    """A hyperparameter's value as a run id writes it: lists joined by '-', floats as repr."""
    if isinstance(value, (list, tuple)):
        return "-".join(value_text(item) for item in value)
    return repr(value) if isinstance(value, float) else str(value)
