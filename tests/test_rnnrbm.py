"""rnnrbm: the initial draws are the tutorial's; on made piano rolls the training costs and the
generated sequences are those the original rnnrbm.py gives on theano-pymc (float64); the
recurrence against NumPy; the JAX default falls back to the C mode; bad input; the Nottingham
line when the data is missing; a small test_rnnrbm end to end (slow).

ORIGINAL: lisa-lab/DeepLearningTutorials' code/rnnrbm.py run on theano-pymc 1.1.2
(/work/main/.venv-theano: Python 3.11, NumPy 1.23.5), its one change the import of
``MRG_RandomStreams``, which theano-pymc names ``MRG_RandomStream``, from a folder holding a
stand-in ``midi/utils.py`` whose ``midiread(f, r, dt).piano_roll`` returns the made roll
registered for the name ``f`` and whose ``midiwrite`` keeps the roll it is given; with
``sys.modules["theano.scan.scan_perform_ext"] = None`` before theano is imported (its Cython scan
does not build on Python 3.11, so the Python scan runs), ``THEANO_FLAGS=floatX=float64,
blas__ldflags=-lopenblas`` and ``OPENBLAS_NUM_THREADS=1``. The driver made the rolls as
``_made_rolls`` does (``RandomState(7)``, not NumPy's global state), registered them as
``a.mid``, ``b.mid``, ``c.mid``, imported rnnrbm (which seeds NumPy with 0xbeef), then ran
``model = RnnRbm(n_hidden=20, n_hidden_recurrent=10)``,
``model.train(["a.mid", "b.mid", "c.mid"], batch_size=10, num_epochs=2)`` and
``model.generate(name, show=False)`` twice. It printed the costs below
(``print(numpy.mean(costs))``) and, for each generated roll (200 x 88 float64), its number of
notes on and the SHA-256 of its float64 bytes. The same with ``floatX=float32`` gave
``ORIGINAL_COSTS_FLOAT32`` and the same two sequences.
"""

import hashlib
import importlib.util
import logging
import os
import re
import signal
import sys
import zipfile

import numpy
import pytest

import dltut
from conftest import in_mode, read_grey_png, run_script
from dltut import catalogue, engine, midi
from dltut.backend import modes
from dltut.data import DataError
from dltut.tutorials import rnnrbm as rnnrbm_module
from dltut.tutorials.rnnrbm import RnnRbm, build_rnnrbm

# the original's float64 costs on the shipped rolls are dltut suite --quick's reference, kept in
# the catalogue with SMALL, batch_size=10 and num_epochs=2
QUICK = catalogue.get("rnnrbm").quick
ORIGINAL_COSTS = list(QUICK.lines[1::2])  # after "Epoch 1/2", "Epoch 2/2"
# floatX=float32 (the monitor is float64 all the same: a float32 sum divided by an int64 length);
# the generated sequences are the float64 run's
ORIGINAL_COSTS_FLOAT32 = ["-60.77565044826932", "-60.04130638970269"]
ORIGINAL_SAMPLES = [  # (notes on, SHA-256 of the float64 roll) of the two generated sequences
    (8657, "5598cd9d3e9c9a373080b620f2443c8aae999de7a5e40890bbdd7916ddb43e95"),
    (8637, "0e3dc860c76f914219e85deed364bafc9b266c17f3d8ccdb0e072c9e64575541"),
]
SMALL = {name: QUICK.settings[name] for name in ("n_hidden", "n_hidden_recurrent")}


def _made_rolls():
    """The three made piano rolls the original trained on, as shipped with dltut (TOY)."""
    return rnnrbm_module.read_rolls(rnnrbm_module.TOY)


def test_the_shipped_rolls_are_the_made_ones():
    """TOY holds toy_rolls(): 25, 13 and 31 frames, one note in ten on, from RandomState(7), as
    the original's driver made them."""
    rs = numpy.random.RandomState(7)
    made = [(rs.uniform(size=(n, 88)) < 0.1).astype("float64") for n in (25, 13, 31)]
    for shipped, generated, expected in zip(_made_rolls(), rnnrbm_module.toy_rolls(), made,
                                            strict=True):
        numpy.testing.assert_array_equal(shipped, expected)
        numpy.testing.assert_array_equal(generated, expected)
    assert os.path.getsize(rnnrbm_module.TOY) < 10_000
    assert QUICK.lines[::2] == ("Epoch 1/2", "Epoch 2/2")
    assert {name: QUICK.settings[name] for name in ("toy", "batch_size", "num_epochs")} == \
        {"toy": True, "batch_size": 10, "num_epochs": 2}


def _tutorial_draws(n_visible, n_hidden, n_hidden_recurrent):
    """What the tutorial drew from NumPy's global state: the streams' seed, then the weights."""
    rng = numpy.random.RandomState(0xbeef)
    seed = rng.randint(1 << 30)
    shapes = {"W": (n_visible, n_hidden, 0.01), "Wuh": (n_hidden_recurrent, n_hidden, 0.0001),
              "Wuv": (n_hidden_recurrent, n_visible, 0.0001),
              "Wvu": (n_visible, n_hidden_recurrent, 0.0001),
              "Wuu": (n_hidden_recurrent, n_hidden_recurrent, 0.0001)}
    return seed, {name: rng.normal(scale=scale, size=(rows, cols))
                  for name, (rows, cols, scale) in shapes.items()}


def _sha256(roll):
    return hashlib.sha256(numpy.ascontiguousarray(roll, dtype="float64").tobytes()).hexdigest()


def _runs(roll):
    """The notes of a piano roll: runs of consecutive frames on, per column."""
    on = numpy.vstack([numpy.zeros((1, roll.shape[1])), roll != 0])
    return int((numpy.diff(on.astype(int), axis=0) == 1).sum())


def _prints_the_original_numbers(tmp_path, caplog, original=ORIGINAL_COSTS, rtol=1e-12):
    model = RnnRbm(**SMALL)
    seed, weights = _tutorial_draws(88, **SMALL)
    assert model.theano_rng.default_instance_seed == seed
    params = {p.name: p.get_value() for p in model.params}
    assert list(params) == ["W", "bv", "bh", "Wuh", "Wuv", "Wvu", "Wuu", "bu"]
    for name, value in weights.items():
        numpy.testing.assert_array_equal(params[name], value.astype(engine.floatX()))
    with caplog.at_level(logging.INFO, logger="dltut"):
        costs = model.train(_made_rolls(), batch_size=10, num_epochs=2)
    lines = [r.getMessage() for r in caplog.records if r.name == rnnrbm_module.__name__]
    assert lines[::2] == ["Epoch 1/2", "Epoch 2/2"]
    assert [float(line) for line in lines[1::2]] == costs
    if engine.mode() == "c" and engine.floatX() == "float64":  # the same digits (Numba's sums
        assert lines[1::2] == original  # may differ in the last bit)
    numpy.testing.assert_allclose(costs, [float(c) for c in original], rtol=rtol)
    for i, (notes_on, digest) in enumerate(ORIGINAL_SAMPLES):
        path = tmp_path / f"sample{i + 1}.mid"
        show = i == 1 and importlib.util.find_spec("matplotlib") is not None
        roll = model.generate(path, show=show)
        if show:  # the tutorial's pylab figure, drawn with pyplot (Agg here: nothing opens)
            from matplotlib import pyplot

            assert pyplot.gcf().axes[0].get_title() == "generated piano-roll"
            pyplot.close("all")
        assert roll.shape == (200, 88) and int(roll.sum()) == notes_on
        assert _sha256(roll) == digest
        # the MIDI file holds the roll's notes (read back in frames of 0.2 s: dt 0.3 of 60
        # ticks reads some notes a frame late, see dltut.midi)
        assert len(midi.midiread(path, dt=0.2).notes) == _runs(roll)
        pixels, _ = read_grey_png(tmp_path / f"sample{i + 1}.png")  # 3 x 3 pixels a cell
        numpy.testing.assert_array_equal(pixels[1::3, 1::3], numpy.where(roll.T[::-1], 0, 255))


def _c_mode():
    """The C mode: PyTensor's that the JAX default falls back to, theano-pymc's only one."""
    return in_mode("c")


def test_prints_the_original_numbers(floatX64, tmp_path, caplog):
    with _c_mode():
        _prints_the_original_numbers(tmp_path, caplog)


@pytest.mark.slow  # CI time: float64 above is the fast suite's comparison with the original
def test_prints_the_original_numbers_in_float32(tmp_path, caplog):
    # the first epoch's cost to the digit, the second's to 1e-8 (the float32 updates round
    # apart), the same generated sequences
    engine.set_floatX("float32")  # conftest's autouse fixture sets it back
    with _c_mode():
        _prints_the_original_numbers(tmp_path, caplog, ORIGINAL_COSTS_FLOAT32, rtol=1e-8)


@pytest.mark.slow
def test_prints_the_original_numbers_in_numba_mode(floatX64, tmp_path, caplog):
    if "numba" not in engine.modes():
        pytest.skip(f"no numba mode on {engine.name()}")
    with in_mode("numba"):
        _prints_the_original_numbers(tmp_path, caplog)


@pytest.fixture
def uncompiled(monkeypatch):
    """``RnnRbm`` whose construction records the mode it would compile in, and compiles
    nothing."""
    compiled_in = []
    monkeypatch.setattr(RnnRbm, "_compile",
                        lambda self, *args: compiled_in.append(engine.mode()))
    return compiled_in


def test_the_jax_default_compiles_in_c_mode(uncompiled, monkeypatch):
    if "jax" not in engine.modes():
        pytest.skip(f"no JAX mode on {engine.name()}")
    with in_mode("jax"):
        with pytest.raises(ValueError, match="mode 'jax' cannot run the RNN-RBM"):
            RnnRbm()  # chosen: an error
    assert uncompiled == []
    with in_mode("numba"):
        assert RnnRbm().mode == "numba"  # another mode chosen: kept
    previous = engine.mode()
    engine.set_mode("jax")
    monkeypatch.setattr(modes, "_mode_reason", engine.default_mode()[1])  # as when none chosen
    try:
        assert engine.mode_is_default()
        model = RnnRbm()
        assert uncompiled == ["numba", "c"] and model.mode == "c"
        assert engine.mode() == "jax" and engine.mode_is_default()  # the default is back
    finally:
        engine.set_mode(previous)


def _numpy_cost(values, v):
    """The CD cost of ``v`` with the chain's end at zeros, and the recurrence, in NumPy."""
    u, bvs, bhs = numpy.zeros(len(values["bu"])), [], []
    for frame in v:
        bvs.append(values["bv"] + u @ values["Wuv"])
        bhs.append(values["bh"] + u @ values["Wuh"])
        u = numpy.tanh(values["bu"] + frame @ values["Wvu"] + u @ values["Wuu"])
    bvs, bhs = numpy.array(bvs), numpy.array(bhs)
    free_energy = -(v * bvs).sum() - numpy.log1p(numpy.exp(v @ values["W"] + bhs)).sum()
    free_energy_0 = -numpy.log1p(numpy.exp(bhs)).sum()  # F(0): the hidden terms only
    return (free_energy - free_energy_0) / len(v)


def test_the_recurrence_and_its_gradient_against_numpy(floatX64):
    # the training cost with the chain's end replaced by zeros is deterministic: its value, and
    # its gradient through the recurrence (bu, Wuu, Wvu), against NumPy and finite differences
    with _c_mode():
        _check_the_recurrence()


def _check_the_recurrence():
    graph = build_rnnrbm(6, 4, 3, numpy.random.RandomState(1))
    rs = numpy.random.RandomState(2)
    values = {p.name: rs.uniform(-1, 1, p.get_value().shape) for p in graph.params}
    for p in graph.params:
        p.set_value(values[p.name])
    v = rs.uniform(size=(5, 6)).round()
    cost = engine.clone_replace(graph.cost, {graph.v_sample: engine.T.zeros_like(graph.v)})
    wrt = [p for p in graph.params if p.name in ("bv", "bu", "Wuu", "Wvu")]
    f = engine.function([graph.v], [cost, *engine.grad(cost, wrt)])
    got_cost, *got_grads = f(v)
    numpy.testing.assert_allclose(got_cost, _numpy_cost(values, v), rtol=1e-12)
    numpy.testing.assert_allclose(got_grads[0], -v.sum(axis=0) / len(v), rtol=1e-12)  # bv
    eps = 1e-6
    for p, got in zip(wrt[1:], got_grads[1:]):
        numeric = numpy.zeros_like(values[p.name])
        for index in numpy.ndindex(numeric.shape):
            shifted = {k: a.copy() for k, a in values.items()}
            shifted[p.name][index] += eps
            up = _numpy_cost(shifted, v)
            shifted[p.name][index] -= 2 * eps
            numeric[index] = (up - _numpy_cost(shifted, v)) / (2 * eps)
        numpy.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-9, err_msg=p.name)


def test_no_outer_product_is_left_in_the_gradients_scan():
    # the frames' notes fixed in v's type (88) let PyTensor compute each weight gradient as one
    # product after the gradient's scan, not an outer product added up frame by frame in it
    if engine.name() != "pytensor":
        pytest.skip("Theano's types have no static lengths")
    with _c_mode():
        fgraph = RnnRbm(n_hidden=4, n_hidden_recurrent=3).train_function.maker.fgraph
    assert fgraph.inputs[0].type.shape == (None, 88)
    scans = {node.op.name: node.op for node in fgraph.apply_nodes
             if type(node.op).__name__ == "Scan"}
    assert set(scans) == {"recurrence", "gibbs_step", "grad_of_recurrence"}
    inner = {type(node.op).__name__ for node in scans["grad_of_recurrence"].fgraph.apply_nodes}
    assert not inner & {"Ger", "CGer", "ScipyGer", "Dot22", "Dot"}, inner


def test_bad_input(uncompiled):
    with _c_mode():
        _check_bad_input(uncompiled)


def _check_bad_input(uncompiled):
    model = RnnRbm()
    with pytest.raises(ValueError, match=r"Training set is empty! \(did you download"):
        model.train([])
    with pytest.raises(ValueError, match=r"files\[1\]: a piano roll must be \(frames >= 1, 88\)"):
        model.train([numpy.zeros((3, 88)), numpy.zeros((3, 87))])
    with pytest.raises(ValueError, match=r"files\[0\]: a piano roll must be"):
        model.train([numpy.zeros((0, 88))])
    with pytest.raises(ValueError, match="holds 0 and 1 only.*0.5"):
        model.train([numpy.full((3, 88), 0.5)])
    with pytest.raises(ValueError, match="got the single path 'a.mid'; use"):
        model.train("a.mid")
    for name, value in (("batch_size", 0), ("num_epochs", 1.5)):
        with pytest.raises(ValueError, match=f"{name} must be a positive integer"):
            model.train([numpy.zeros((3, 88))], **{name: value})
    with pytest.raises(ValueError, match="lr must be a positive learning rate"):
        RnnRbm(lr=0)
    with pytest.raises(ValueError, match="r must be MIDI note numbers"):
        RnnRbm(r=(109, 21))
    with pytest.raises(ValueError, match="seed must be an integer"):
        RnnRbm(seed=-1)
    assert len(uncompiled) == 1  # only the first model got as far as compiling


def test_missing_nottingham_says_where_it_came_from(tmp_path):
    with pytest.raises(ValueError) as error:
        dltut.test_rnnrbm(data_dir=str(tmp_path / "Nottingham"), mode="c")
    message = str(error.value)
    assert "Nottingham: no *.mid files" not in message  # the train folder is named
    assert os.path.join("Nottingham", "train") in message and "no *.mid files" in message
    assert "http://www.iro.umontreal.ca/~lisa/deep/data/Nottingham.zip" in message


def test_rnnrbm_on_the_shipped_rolls_prints_the_originals_costs_with_no_mido(
        floatX64, tmp_path, caplog, monkeypatch):
    """test_rnnrbm(toy=True) with the catalogue's quick settings: the original's two costs,
    and its samples (MIDI and picture) written with mido missing (no extra installed)."""
    monkeypatch.setitem(sys.modules, "mido", None)
    samples = [str(tmp_path / "sample1.mid"), str(tmp_path / "sample2.mid")]
    with caplog.at_level(logging.INFO, logger="dltut"):
        model = dltut.test_rnnrbm(**QUICK.settings, samples=samples, mode="c")
    lines = [r.getMessage() for r in caplog.records if r.name == rnnrbm_module.__name__]
    assert lines == list(QUICK.lines)
    assert model.costs == [float(cost) for cost in ORIGINAL_COSTS]
    for name in ("sample1.mid", "sample2.mid", "sample1.png", "sample2.png"):
        assert (tmp_path / name).stat().st_size > 0
    with pytest.raises(ValueError, match="toy trains on the made rolls .*give no data_dir"):
        dltut.test_rnnrbm(toy=True, data_dir=str(tmp_path), mode="c")


def _rolls_file(path, **arrays):
    numpy.savez(path, **arrays)
    return path


def test_a_bad_rolls_file_is_one_error_naming_it(tmp_path):
    good = {"frames": numpy.zeros((5, 88), numpy.uint8), "lengths": numpy.array([2, 3])}
    (tmp_path / "text.npz").write_text("not a zip")
    cases = [
        (tmp_path / "missing.npz", "no such file"),
        (tmp_path / "text.npz", "not a zip archive"),
        (_rolls_file(tmp_path / "keys.npz", frames=good["frames"]), "arrays \\['frames'\\]"),
        (_rolls_file(tmp_path / "sum.npz", frames=good["frames"], lengths=numpy.array([2, 2])),
         "are not 4 rows of notes"),
        (_rolls_file(tmp_path / "two.npz", frames=good["frames"] + 2, lengths=good["lengths"]),
         "notes off and on"),
        (_rolls_file(tmp_path / "empty.npz", frames=good["frames"], lengths=numpy.array([5, 0])),
         "lengths int64 \\(2,\\)"),
        (_rolls_file(tmp_path / "words.npz", frames=good["frames"], lengths=numpy.array(["5"])),
         "lengths <U1"),
        (_rolls_file(tmp_path / "pickled.npz", frames=numpy.array([None]), lengths=good["lengths"]),
         "pickled.npz: frames of shape \\(1,\\)"),
    ]
    for path, message in cases:
        with pytest.raises(DataError, match=message) as error:
            rnnrbm_module.read_rolls(path)
        assert str(path) in str(error.value)
    # a header that claims a huge roll is refused before anything is allocated
    huge = tmp_path / "huge.npz"
    with zipfile.ZipFile(huge, "w") as archive:
        with archive.open("frames.npy", "w") as member:
            numpy.lib.format.write_array_header_1_0(
                member, {"descr": "|u1", "fortran_order": False, "shape": (10**12, 88)})
        with archive.open("lengths.npy", "w") as member:
            numpy.lib.format.write_array(member, numpy.array([10**12]))
    with pytest.raises(DataError, match=r"huge.npz: frames of shape \(1000000000000, 88\)"):
        rnnrbm_module.read_rolls(huge)
    rnnrbm_module.save_rolls(tmp_path / "back.npz", _made_rolls())
    for read, made in zip(rnnrbm_module.read_rolls(tmp_path / "back.npz"), _made_rolls()):
        numpy.testing.assert_array_equal(read, made)


@pytest.mark.slow
def test_rnnrbm_on_a_made_nottingham(tmp_path, caplog, monkeypatch):
    # three made tunes written as MIDI, read back at dt 0.3, the tutorial's model (150, 100)
    train = tmp_path / "Nottingham" / "train"
    train.mkdir(parents=True)
    for i, roll in enumerate(_made_rolls()):
        midi.midiwrite(train / f"tune{i}.mid", roll, dt=0.3)
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.INFO, logger="dltut"):
        model = dltut.test_rnnrbm(batch_size=20, num_epochs=1,
                                  data_dir=str(tmp_path / "Nottingham"), mode="c")
    lines = [r.getMessage() for r in caplog.records if r.name == rnnrbm_module.__name__]
    assert lines[0] == "Epoch 1/1" and float(lines[1]) == model.costs[0] < 0
    for name in ("sample1.mid", "sample2.mid", "sample1.png", "sample2.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_the_script_without_the_data_says_where_it_came_from(tmp_path):
    result = run_script("rnnrbm.py", "--num-epochs", "1", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("rnnrbm.py: error: data/Nottingham/train: no *.mid files.")
    assert "Nottingham.zip" in result.stderr and result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_the_epoch_loop_shuffles_splits_and_stops_on_ctrl_c(uncompiled, caplog):
    # a stand-in train_function that returns the length of the piece it is given: the epochs
    # shuffle the sequences with the model's RandomState (nothing drawn from it yet here, as
    # _compile is skipped) and cut each into pieces of at most batch_size frames
    with _c_mode():
        model = RnnRbm()
    seen = []
    model.train_function = lambda piece: seen.append(len(piece)) or numpy.array(len(piece), "d")
    rolls = [numpy.zeros((n, 88)) for n in (5, 12, 7)]
    with caplog.at_level(logging.INFO, logger="dltut"):
        costs = model.train(rolls, batch_size=4, num_epochs=3)
    rng, order, expected = numpy.random.RandomState(0xbeef), [5, 12, 7], []
    for _ in range(3):
        rng.shuffle(order)
        pieces = [min(4, n - i) for n in order for i in range(0, n, 4)]
        expected.append(pieces)
    assert seen == [piece for pieces in expected for piece in pieces]
    assert costs == model.costs == [numpy.mean(pieces) for pieces in expected]
    lines = [r.getMessage() for r in caplog.records if r.name == rnnrbm_module.__name__]
    assert lines == ["Epoch 1/3", str(numpy.mean(expected[0])), "Epoch 2/3",
                     str(numpy.mean(expected[1])), "Epoch 3/3", str(numpy.mean(expected[2]))]

    def interrupted_at_the_eighth(piece):  # Ctrl+C during the second epoch
        seen.append(len(piece))
        if len(seen) == 8:
            os.kill(os.getpid(), signal.SIGINT)
        return numpy.array(1.0)

    seen.clear()
    model.train_function = interrupted_at_the_eighth
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dltut"):
        assert model.train(rolls, batch_size=4, num_epochs=3) == [1.0]
    assert len(seen) == 8 and model.costs[-1] == 1.0 and len(model.costs) == 4
    assert caplog.records[-1].getMessage() == "Interrupted by user."


@pytest.mark.slow
def test_a_resumed_run_goes_on_as_the_unbroken_one(floatX64, tmp_path, caplog):
    # one epoch with a checkpoint, then a new model resuming it for the second: the original's
    # second epoch, and the same generated sequence as the unbroken run
    path = tmp_path / "rnnrbm.npz"
    with _c_mode():
        first = RnnRbm(**SMALL)
        assert first.train(_made_rolls(), batch_size=10, num_epochs=1, checkpoint=path) \
            == [float(ORIGINAL_COSTS[0])]
        other = r"checkpoint of another run .*'batch_size': \(10, 5\)"
        with pytest.raises(ValueError, match=other):
            first.train(_made_rolls(), batch_size=5, num_epochs=2, resume=path)
        second = RnnRbm(**SMALL)
        caplog.clear()  # the first run's lines, kept when an earlier test left "dltut" at INFO
        with caplog.at_level(logging.INFO, logger="dltut"):
            costs = second.train(_made_rolls(), batch_size=10, num_epochs=2, resume=path)
        assert costs == second.costs == [float(c) for c in ORIGINAL_COSTS]
        lines = [r.getMessage() for r in caplog.records if r.name == rnnrbm_module.__name__]
        assert lines[0].startswith("... resuming from") and lines[1:] == ["Epoch 2/2",
                                                                          ORIGINAL_COSTS[1]]
        roll = second.generate(tmp_path / "sample1.mid", show=False)
        assert _sha256(roll) == ORIGINAL_SAMPLES[0][1]


# ----------------------------------------------------------------------------------------------
# What a checkpoint holds is checked before it is used; output places before training


@pytest.fixture
def graph_only(monkeypatch):
    """``RnnRbm`` with its graph built (parameters, random streams) and nothing compiled; its
    train_function a stand-in returning the piece's length."""
    def build(self, n_hidden, n_hidden_recurrent, lr):
        self.theano_rng = rnnrbm_module.RandomStreams(int(self.rng.randint(1 << 30)),
                                                      name="rnnrbm")
        self.params = build_rnnrbm(self.r[1] - self.r[0], n_hidden, n_hidden_recurrent,
                                   self.rng, self.theano_rng).params
        self.train_function = lambda piece: numpy.array(float(len(piece)))

    monkeypatch.setattr(RnnRbm, "_compile", build)


def _rewritten(path, to, meta=None, arrays=None):
    """A copy of the checkpoint ``path`` at ``to``, ``meta(meta)`` and ``arrays(arrays)`` applied
    (each changes its dict in place)."""
    import json

    with numpy.load(path) as saved:
        values = {key: saved[key] for key in saved.files}
    loaded = json.loads(str(values.pop("meta")))
    if meta is not None:
        meta(loaded)
    if arrays is not None:
        arrays(values)
    with open(to, "wb") as file:
        numpy.savez(file, meta=numpy.array(json.dumps(loaded)), **values)
    return to


CRAFTED = {
    "rnnrbm a list": dict(meta=lambda m: m.update(rnnrbm_checkpoint=[1])),
    "no costs": dict(meta=lambda m: m["rnnrbm_checkpoint"].pop("costs")),
    "an extra key": dict(meta=lambda m: m["rnnrbm_checkpoint"].update(extra=1)),
    "settings a number": dict(meta=lambda m: m["rnnrbm_checkpoint"].update(settings=3)),
    "costs of strings": dict(meta=lambda m: m["rnnrbm_checkpoint"].update(costs=["x"])),
    "rng position 999": dict(meta=lambda m: m["rnnrbm_checkpoint"].update(
        rng=["MT19937", 999, 0, 0.0])),
    "rng a dict": dict(meta=lambda m: m["rnnrbm_checkpoint"].update(rng={})),
    "no engine": dict(meta=lambda m: m.pop("engine")),
    "an order that repeats": dict(meta=lambda m: m["rnnrbm_checkpoint"].update(order=[0, 0, 0])),
    "an order too long": dict(meta=lambda m: m["rnnrbm_checkpoint"].update(
        order=list(range(10**5)))),
    "W of another shape": dict(arrays=lambda a: a.update(
        {"param/value/W": numpy.zeros((88, 3))})),
    "W of strings": dict(arrays=lambda a: a.update({"param/value/W": numpy.full((88, 20), "a")})),
    "a stream missing": dict(arrays=lambda a: a.pop("param/array/rstate")),
    "RandomState keys short": dict(arrays=lambda a: a.update(
        {"param/rng_keys": numpy.zeros(3, dtype="uint32")})),
    "an unknown array": dict(arrays=lambda a: a.update({"param/extra": numpy.zeros(1)})),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_a_crafted_checkpoint_is_refused_naming_the_file(graph_only, floatX64, tmp_path, case):
    from dltut.saving import ModelFileError

    path = tmp_path / "rnnrbm.npz"
    with _c_mode():
        RnnRbm(**SMALL).train(_made_rolls(), batch_size=10, num_epochs=1, checkpoint=path)
        crafted = _rewritten(path, tmp_path / "crafted.npz", **CRAFTED[case])
        with pytest.raises(ModelFileError, match=re.escape(str(crafted))):
            RnnRbm(**SMALL).train(_made_rolls(), batch_size=10, num_epochs=2, resume=crafted)
        # the file as written resumes (the rules fit it)
        copy = _rewritten(path, tmp_path / "copy.npz")
        assert len(RnnRbm(**SMALL).train(_made_rolls(), batch_size=10, num_epochs=2,
                                         resume=copy)) == 2


def test_output_places_are_checked_before_training(uncompiled, tmp_path):
    """A sample in a folder that is a file, or a checkpoint that is a folder: refused before any
    model is built."""
    from dltut.atomic import OutputError

    train = tmp_path / "Nottingham" / "train"
    train.mkdir(parents=True)
    midi.midiwrite(train / "tune.mid", _made_rolls()[0], dt=0.3)
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match=r"--samples .*file"):
        dltut.test_rnnrbm(num_epochs=1, data_dir=str(tmp_path / "Nottingham"), mode="c",
                          samples=[str(tmp_path / "file" / "sample.mid")])
    with pytest.raises(OutputError, match="checkpoint .* is a folder"):
        dltut.test_rnnrbm(num_epochs=1, data_dir=str(tmp_path / "Nottingham"), mode="c",
                          checkpoint=str(tmp_path), overwrite=True)
    (tmp_path / "run.npz").write_text("")
    with pytest.raises(ValueError, match="run.npz exists: resume it with --resume .*--overwrite"):
        dltut.test_rnnrbm(num_epochs=1, data_dir=str(tmp_path / "Nottingham"), mode="c",
                          checkpoint=str(tmp_path / "run.npz"))
    with pytest.raises(ValueError, match="checkpoint_every must be a positive integer"):
        dltut.test_rnnrbm(num_epochs=1, data_dir=str(tmp_path / "Nottingham"), mode="c",
                          checkpoint_every=0)
    with pytest.raises(ValueError, match="samples must be a list .*use \\['a.mid'\\]"):
        dltut.test_rnnrbm(num_epochs=1, data_dir=str(tmp_path / "Nottingham"), mode="c",
                          samples="a.mid")
    assert uncompiled == []
    with _c_mode():
        with pytest.raises(OutputError, match="checkpoint .* is a folder"):
            RnnRbm().train([numpy.zeros((3, 88))], checkpoint=tmp_path)


def test_a_checkpoint_that_cannot_be_written_is_a_warning_and_training_goes_on(
        graph_only, floatX64, tmp_path, monkeypatch, caplog):
    """A full disk at every checkpoint write: one warning naming the file, every epoch trained."""
    from conftest import checkpoint_warnings, disk_full_for

    disk_full_for(monkeypatch, "rnnrbm.npz")
    with _c_mode(), caplog.at_level(logging.WARNING, logger="dltut"):
        costs = RnnRbm(**SMALL).train(_made_rolls(), batch_size=10, num_epochs=2,
                                      checkpoint=tmp_path / "rnnrbm.npz")
    checkpoint_warnings(caplog, tmp_path / "rnnrbm.npz")
    assert len(costs) == 2 and not (tmp_path / "rnnrbm.npz").exists()
