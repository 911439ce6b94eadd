"""The early-stopping trainer against hand-computed traces and a literal transcription of the tutorial loop."""

import copy
import json
import logging
import math
import time
import types

import numpy
import pytest

from dltut.trainer import Diverged, EarlyStopping, train, train_lockstep


class FakeModel:
    """Validation losses from a list, one per validation; records the spans it is asked to train."""

    def __init__(self, losses, n_train_batches, fused=True, costs=None):
        self.fused = fused
        self.cost_values = costs
        self.losses = list(losses)
        self.n_train_batches = n_train_batches
        self.spans = []
        self.updates = 0
        self.validations = 0

    def train_minibatches(self, first, count):
        assert 0 <= first and first + count <= self.n_train_batches
        self.spans.append((first, count))
        costs = numpy.arange(self.updates, self.updates + count, dtype=float)
        if self.cost_values is not None:
            costs = numpy.asarray(self.cost_values[self.updates:self.updates + count], dtype=float)
        self.updates += count
        return costs

    def validation_loss(self):
        loss = self.losses[self.validations]
        self.validations += 1
        return loss

    def test_score(self):
        return 1.0 - self.losses[self.validations - 1]  # anything that names the validation

    def get_params(self):
        return [numpy.array(self.updates)]


def tutorial_loop(losses, n_train_batches, n_epochs, patience, patience_increase=2,
                  improvement_threshold=0.995):
    """The loop of logistic_sgd.py / mlp.py, transcribed line by line (one update per step)."""
    losses = iter(losses)
    validation_frequency = min(n_train_batches, patience // 2)
    best_validation_loss, best_iter, test_score = numpy.inf, 0, 0.0
    trace = []
    done_looping, epoch, it = False, 0, -1
    while (epoch < n_epochs) and (not done_looping):
        epoch = epoch + 1
        for minibatch_index in range(n_train_batches):
            it = (epoch - 1) * n_train_batches + minibatch_index
            if (it + 1) % validation_frequency == 0:
                this_validation_loss = next(losses)
                trace.append((it, epoch, minibatch_index + 1, this_validation_loss))
                if this_validation_loss < best_validation_loss:
                    if this_validation_loss < best_validation_loss * improvement_threshold:
                        patience = max(patience, it * patience_increase)
                    best_validation_loss = this_validation_loss
                    best_iter = it
                    test_score = 1.0 - this_validation_loss
            if patience <= it:
                done_looping = True
                break
    return {
        "trace": trace, "best_validation_loss": best_validation_loss, "best_iter": best_iter,
        "test_score": test_score, "epochs": epoch, "iterations": it + 1, "patience": patience,
        "stop_reason": "patience" if done_looping else "n_epochs",
    }


def run(losses, n_train_batches, fused=True, **stopping):
    model = FakeModel(losses, n_train_batches, fused)
    result = train(model, n_train_batches, EarlyStopping(**stopping))
    return model, result


def test_patience_extension_and_insignificant_improvement():
    # validation every 10 updates (min(10, 25 // 2)); 0.399 is a new best but not below 0.4 * 0.995
    model, result = run([0.5, 0.4, 0.399, 0.45], 10, n_epochs=100, patience=25)
    assert [(v.iter, v.epoch, v.minibatch) for v in result.history] == [(9, 1, 10), (19, 2, 10),
                                                                        (29, 3, 10)]
    assert [v.patience for v in result.history] == [25, 38, 38]  # max(25, 18), max(25, 38), kept
    assert [v.extended for v in result.history] == [True, True, False]
    assert [v.new_best for v in result.history] == [True, True, True]
    # patience 38 <= iter first at iter 38: epoch 4, minibatch 9, before the next validation
    assert result.stop_reason == "patience"
    assert (result.iterations, result.epochs, result.patience) == (39, 4, 38)
    assert (result.best_validation_loss, result.best_iter) == (0.399, 29)
    assert result.test_score == pytest.approx(0.601)
    assert result.best_params == [numpy.array(30)]  # kept after update 29
    assert list(result.costs) == list(range(39))


def test_small_patience_validates_mid_epoch():
    # patience 6: validation_frequency = min(10, 3) = 3, so validations fall inside epochs
    model, result = run([0.5, 0.4, 0.3, 0.35, 0.35], 10, n_epochs=100, patience=6)
    assert result.validation_frequency == 3
    assert [(v.iter, v.epoch, v.minibatch) for v in result.history] == [
        (2, 1, 3), (5, 1, 6), (8, 1, 9), (11, 2, 2), (14, 2, 5)]
    assert [v.patience for v in result.history] == [6, 10, 16, 16, 16]
    assert (result.iterations, result.epochs, result.stop_reason) == (17, 2, "patience")
    assert result.best_iter == 8
    # spans end at each validation point, at the epoch end and at the patience stop
    assert model.spans == [(0, 3), (3, 3), (6, 3), (9, 1), (0, 2), (2, 3), (5, 2)]


def test_n_epochs_stop():
    model, result = run([0.9 - 0.1 * k for k in range(3)], 5, n_epochs=3, patience=10_000)
    assert result.stop_reason == "n_epochs"
    assert (result.iterations, result.epochs) == (15, 3)
    assert len(result.history) == 3
    assert model.spans == [(0, 5)] * 3


def test_no_improvement_keeps_first_best():
    model, result = run([0.3, 0.31, 0.3, 0.5], 4, n_epochs=4, patience=1000)
    assert result.best_iter == 3 and result.best_validation_loss == 0.3
    assert [v.new_best for v in result.history] == [True, False, False, False]


def test_patience_stop_on_a_validation_update():
    # patience 20 with 10 batches; the first validation (iter 9) sets max(20, 18) = 20;
    # validation at iter 19 is worse; the stop comes at iter 20, the first update of epoch 3
    model, result = run([0.5, 0.6], 10, n_epochs=10, patience=20)
    assert (result.iterations, result.epochs) == (21, 3)
    assert model.spans[-1] == (0, 1)


class CompilingModel(FakeModel):
    """A fused model whose ``prepare`` takes ``delay`` seconds for each span length it has not
    compiled yet, and whose span of a length it was not prepared for fails."""

    def __init__(self, *args, delay, **kwargs):
        super().__init__(*args, **kwargs)
        self.delay, self.compiled, self.prepared = delay, set(), []

    def prepare(self, span_lengths=()):
        self.prepared.append(list(span_lengths))
        for count in set(span_lengths) - self.compiled:
            time.sleep(self.delay)
            self.compiled.add(count)

    def train_minibatches(self, first, count):
        assert count in self.compiled, f"a span of {count} was not compiled before it ran"
        return super().train_minibatches(first, count)


def test_a_span_length_met_late_is_compiled_off_the_clock():
    """Patience raised to 18 at the second validation (every 5 updates) cuts the last span
    after 4 updates, a length the first preparation (spans of 5) could not foresee: that length
    is compiled before it runs, and the compiling is not in ``elapsed``."""
    model = CompilingModel([0.5, 0.4, 0.45, 0.45], 10, delay=0.3)
    result = train(model, 10, EarlyStopping(n_epochs=100, patience=10))
    assert model.spans == [(0, 5), (5, 5), (0, 5), (5, 4)]
    assert model.prepared[0] == [5] and sorted(model.compiled) == [4, 5]
    assert result.stop_reason == "patience" and result.iterations == 19
    assert result.elapsed < 0.3  # the training of a fake model: no compile in it


def test_unfused_model_is_asked_one_minibatch_at_a_time():
    fused_model, fused = run([0.5, 0.4, 0.3, 0.35, 0.35], 10, n_epochs=100, patience=6)
    model, result = run([0.5, 0.4, 0.3, 0.35, 0.35], 10, fused=False, n_epochs=100, patience=6)
    assert model.spans == [(i % 10, 1) for i in range(17)]
    assert result.history == fused.history and list(result.costs) == list(fused.costs)


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("fused", [True, False])
def test_equals_the_tutorial_loop(seed, fused):
    rng = numpy.random.RandomState(seed)
    n_train_batches = int(rng.randint(1, 12))
    patience = int(rng.randint(2, 60))
    n_epochs = int(rng.randint(1, 15))
    # noisy, mostly decreasing losses on a grid, so ties and near-threshold gains happen
    losses = numpy.round(numpy.maximum(0.01, 0.6 * 0.93 ** numpy.arange(400)
                                       + rng.normal(0, 0.02, 400)), 3)
    expected = tutorial_loop(losses, n_train_batches, n_epochs, patience)
    _, result = run(losses, n_train_batches, fused, n_epochs=n_epochs, patience=patience)
    assert [(v.iter, v.epoch, v.minibatch, v.validation_loss) for v in result.history] == \
        expected["trace"]
    for key in ("best_validation_loss", "best_iter", "epochs", "iterations", "patience",
                "stop_reason"):
        assert getattr(result, key) == expected[key], key
    assert result.test_score == pytest.approx(expected["test_score"])


def test_log_lines_and_callbacks(caplog):
    seen = []
    model = FakeModel([0.125, 0.25], 4)
    with caplog.at_level(logging.INFO, logger="dltut.trainer"):
        result = train(model, 4, EarlyStopping(n_epochs=2, patience=100), callbacks=[seen.append],
                       log_every=3)
    assert caplog.messages == [
        "training @ iter = 0",
        "training @ iter = 3",
        "epoch 1, minibatch 4/4, validation error 12.500000 %",
        "     epoch 1, minibatch 4/4, test error of best model 87.500000 %",
        "training @ iter = 6",
        "epoch 2, minibatch 4/4, validation error 25.000000 %",
    ]
    assert seen == result.history


def test_no_validation_before_the_end():
    _, result = run([], 10, n_epochs=1, patience=100, validation_frequency=20)
    assert result.history == [] and math.isinf(result.best_validation_loss)
    assert result.best_params is None and result.test_score == 0.0


@pytest.mark.parametrize("field, value, fragment", [
    ("n_epochs", 0, "n_epochs must be an integer >= 1, got 0"),
    ("patience", -5, "patience must be an integer >= 1, got -5"),
    ("patience", 2.5, "got 2.5"),
    ("patience_increase", 0, "patience_increase must be an integer >= 1"),
    ("improvement_threshold", 0.0, "improvement_threshold must be in (0, 1], got 0.0"),
    ("improvement_threshold", 1.5, "got 1.5"),
    ("validation_frequency", 0, "validation_frequency must be an integer >= 1, got 0"),
])
def test_bad_settings(field, value, fragment):
    with pytest.raises(ValueError) as error:
        EarlyStopping(**{field: value})
    assert fragment in str(error.value)


def test_patience_one_has_no_validation_frequency():
    with pytest.raises(ValueError, match="patience 1 gives a validation frequency of 0"):
        train(FakeModel([], 5), 5, EarlyStopping(patience=1))


LOSSES = [0.5, 0.4, 0.3, 0.35, 0.29, 0.289, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("stop_after", [1, 2, 5, 9, 10, 11, 16])  # 17 spans, 41 updates
def test_interrupt_and_resume_equals_an_unbroken_run(fused, stop_after):
    stopping = EarlyStopping(n_epochs=100, patience=6)
    unbroken = train(FakeModel(LOSSES, 10, fused), 10, stopping)
    calls = iter(range(10**6))
    checkpoints = []
    first = FakeModel(LOSSES, 10, fused)
    partial = train(first, 10, stopping, checkpoint=checkpoints.append,
                    stop_requested=lambda: next(calls) + 1 >= stop_after)
    assert partial.stop_reason == "interrupted" and checkpoints == [partial.state]
    state = partial.state
    second = FakeModel(LOSSES[len(state.history):], 10, fused)
    second.updates = state.iteration + 1
    resumed = train(second, 10, stopping, state=state)
    for key in ("best_validation_loss", "best_iter", "test_score", "epochs", "iterations",
                "stop_reason", "patience", "history"):
        assert getattr(resumed, key) == getattr(unbroken, key), key
    assert list(resumed.costs) == list(unbroken.costs)


@pytest.mark.parametrize("costs, stop_reason", [(None, "patience"),
                                                 ([1.0] * 25 + [math.nan], "diverged")])
def test_resuming_the_checkpoint_of_a_run_that_ended_trains_no_more(costs, stop_reason):
    """A run killed after its last checkpoint (its end) but before anything else was written is
    resumed from that checkpoint: it ends where it ended, with the same numbers."""
    stopping = EarlyStopping(n_epochs=100, patience=6)
    checkpoints = []
    try:
        ended = train(FakeModel(LOSSES, 10, costs=costs), 10, stopping,
                      checkpoint=checkpoints.append)
    except Diverged as error:
        ended = error.result
    assert ended.stop_reason == stop_reason
    model = FakeModel(LOSSES[len(ended.history):], 10)
    try:
        resumed = train(model, 10, stopping, state=checkpoints[-1])
    except Diverged as error:
        resumed = error.result
    assert model.spans == [] and model.validations == 0
    for key in ("best_validation_loss", "best_iter", "test_score", "epochs", "iterations",
                "stop_reason", "patience", "history"):
        assert getattr(resumed, key) == getattr(ended, key), key


def test_checkpoint_every_epochs_and_at_the_end():
    seen = []
    result = train(FakeModel([0.5 - 0.01 * k for k in range(10)], 4), 4,
                   EarlyStopping(n_epochs=7, patience=1000), checkpoint_every=3,
                   checkpoint=lambda state: seen.append(state.iteration))
    assert result.stop_reason == "n_epochs"
    assert seen == [11, 23, 27]  # after epochs 3 and 6, then at the end


def test_state_round_trips_through_a_dict():
    result = train(FakeModel(LOSSES, 10), 10, EarlyStopping(n_epochs=2, patience=6))
    fields = result.state.to_dict()
    assert fields["iteration"] == result.iterations - 1
    back = type(result.state).from_dict(fields, result.best_params, result.costs)
    assert back == result.state


@pytest.mark.parametrize("fused", [True, False])
def test_divergence_stops_with_the_iteration(fused):
    costs = [1.0] * 25 + [float("nan")] + [1.0] * 100
    saved = []
    with pytest.raises(FloatingPointError) as error:
        train(FakeModel(LOSSES, 10, fused, costs=costs), 10, EarlyStopping(n_epochs=10, patience=100),
              checkpoint=saved.append)
    assert "training diverged at iteration 25: cost nan" in str(error.value)
    result = error.value.result
    assert result.stop_reason == "diverged" and result.iterations == 26 == len(result.costs)
    assert result.best_iter == 19 and result.best_params == [numpy.array(20)]
    assert len(saved) == 1


class FakeGroup:
    """``FakeModel``s in lockstep: a run not active in a span is not updated (its update count,
    which its params and costs show, stays), and only the runs that validate draw a loss."""

    def __init__(self, models):
        self.models, self.spans, self.updates = models, [], 0

    def train_minibatches(self, first, count, active):
        self.spans.append((self.updates, count, list(active)))  # from update, count, active
        self.updates += count
        costs = numpy.full((count, len(self.models)), -1.0)
        for index, model in enumerate(self.models):
            if active[index]:
                costs[:, index] = model.train_minibatches(first, count)
        return costs

    def validation_losses(self):
        return _Lazy(lambda index: self.models[index].validation_loss())

    def test_scores(self):
        return _Lazy(lambda index: self.models[index].test_score())

    def get_run_params(self, index):
        return self.models[index].get_params()


class _Lazy:
    def __init__(self, get):
        self.get = get

    def __getitem__(self, index):
        return self.get(index)


def test_lockstep_runs_equal_their_solo_runs():
    rng = numpy.random.RandomState(3)
    n_train_batches = 5
    stoppings = [EarlyStopping(n_epochs=6, patience=4), EarlyStopping(n_epochs=6, patience=10),
                 EarlyStopping(n_epochs=2, patience=100, validation_frequency=3),
                 EarlyStopping(n_epochs=8, patience=6, improvement_threshold=0.9)]
    losses = [list(0.5 - 0.3 * rng.rand(40)) for _ in stoppings]
    costs = [None, None, None, [1.0] * 7 + [float("inf")] + [1.0] * 50]  # the last diverges
    group = FakeGroup([FakeModel(run_losses, n_train_batches, costs=run_costs)
                       for run_losses, run_costs in zip(losses, costs)])
    results = train_lockstep(group, n_train_batches, stoppings)
    for index, (result, stopping) in enumerate(zip(results, stoppings)):
        model = FakeModel(losses[index], n_train_batches, costs=costs[index])
        try:
            expected = train(model, n_train_batches, stopping)
        except Diverged as error:
            expected = error.result
        for field in ("best_validation_loss", "best_iter", "test_score", "epochs", "iterations",
                      "stop_reason", "patience", "history", "best_params"):
            assert getattr(result, field) == getattr(expected, field), (index, field)
        numpy.testing.assert_array_equal(result.costs, expected.costs)
        # a stopped run is in no later span; a span ends at its stop (a divergence is found
        # in the span's costs, after it)
        stop = result.iterations - 1
        assert all(not active[index] for first, _, active in group.spans if first > stop)
        assert any(first + count - 1 == stop and active[index]
                   for first, count, active in group.spans) != (result.stop_reason == "diverged")
    assert len({result.iterations for result in results}) == len(results)
    assert [result.stop_reason for result in results] == ["patience", "patience", "n_epochs",
                                                          "diverged"]


def test_lockstep_runs_resumed_at_different_updates_equal_their_unbroken_runs():
    """Runs checkpointed in a group, then resumed from checkpoints of different updates (one an
    epoch behind, one stopped): the runs behind catch up, the others wait, and every run ends
    as in the unbroken group."""
    rng = numpy.random.RandomState(5)
    n_train_batches = 5
    stoppings = [EarlyStopping(n_epochs=6, patience=10),
                 EarlyStopping(n_epochs=4, patience=100, validation_frequency=3),
                 EarlyStopping(n_epochs=8, patience=6, improvement_threshold=0.9)]
    losses = [list(0.5 - 0.3 * rng.rand(40)) for _ in stoppings]
    unbroken = train_lockstep(FakeGroup([FakeModel(run_losses, n_train_batches)
                                         for run_losses in losses]), n_train_batches, stoppings)
    saved = [[] for _ in stoppings]
    spans = iter(range(10**6))
    partial = train_lockstep(
        FakeGroup([FakeModel(run_losses, n_train_batches) for run_losses in losses]),
        n_train_batches, stoppings, stop_requested=lambda: next(spans) >= 6,
        checkpoints=[lambda state, kept=kept: kept.append(copy.deepcopy(state)) for kept in saved],
        checkpoint_every=1)
    assert [result.stop_reason for result in partial] == ["interrupted", "interrupted", "patience"]
    # every run checkpoints at the end of each epoch it trains through, and all at the end
    assert [state.iteration for state in saved[0]] == [4, 9, partial[0].iterations - 1]
    states = [saved[0][0], saved[1][-1], saved[2][-1]]
    assert states[0].iteration < states[1].iteration
    models = []
    for run_losses, state in zip(losses, states):
        models.append(FakeModel(run_losses[len(state.history):], n_train_batches))
        models[-1].updates = state.iteration + 1
    group = FakeGroup(models)
    resumed = train_lockstep(group, n_train_batches, stoppings, states=states)
    for index, (got, expected) in enumerate(zip(resumed, unbroken)):
        for field in ("best_validation_loss", "best_iter", "test_score", "epochs", "iterations",
                      "stop_reason", "patience", "history", "best_params"):
            assert getattr(got, field) == getattr(expected, field), (index, field)
        numpy.testing.assert_array_equal(got.costs, expected.costs)
    # the first run trained alone until it reached the second; the stopped one never again
    assert group.spans[0][2] == [True, False, False]
    assert not any(active[2] for _, _, active in group.spans)


# ----------------------------------------------------------------------------------------------
# ValidationPatience: the LSTM tutorial's rule


def lstm_tutorial_loop(losses, n_train_batches, max_epochs, patience, validFreq):
    """The loop of lstm.py's train_lstm, transcribed (its errors from ``losses``, one per
    validation; ``best_p`` stands for the update at which it was kept)."""
    losses = iter(losses)
    history_errs, best_p, bad_counter, trace = [], None, 0, []
    uidx, estop = 0, False
    for eidx in range(max_epochs):
        for _ in range(n_train_batches):
            uidx += 1
            if numpy.mod(uidx, validFreq) == 0:
                valid_err = next(losses)
                history_errs.append([valid_err, 1.0 - valid_err])
                if best_p is None or valid_err <= numpy.array(history_errs)[:, 0].min():
                    best_p = uidx
                    bad_counter = 0
                if (len(history_errs) > patience
                        and valid_err >= numpy.array(history_errs)[:-patience, 0].min()):
                    bad_counter += 1
                    if bad_counter > patience:
                        estop = True
                trace.append((uidx - 1, valid_err, best_p == uidx, bad_counter))
                if estop:
                    break
        if estop:
            break
    return {"trace": trace, "best_iter": best_p - 1 if best_p else 0, "iterations": uidx,
            "epochs": eidx + 1, "stop_reason": "validation_patience" if estop else "n_epochs"}


class FakeLSTM(FakeModel):
    def train_loss(self):
        return 0.5


@pytest.mark.parametrize("losses, n_train_batches, max_epochs, patience, frequency", [
    ([0.5, 0.4, 0.4, 0.45, 0.5, 0.5, 0.6, 0.7, 0.3], 4, 10, 2, 3),  # ties count as a new best
    ([0.3] * 20, 5, 8, 1, 2),  # each ties the best (the count back to 0) and is stale (to 1)
    ([0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.04], 3, 4, 1, 2),  # always better: the epochs run out
    (list(numpy.random.RandomState(1).choice([0.2, 0.25, 0.3], 60)), 7, 30, 3, 5),
    (list(numpy.random.RandomState(2).uniform(0.1, 0.2, 60)), 6, 40, 2, 4),
])
@pytest.mark.parametrize("fused", [True, False])
def test_validation_patience_is_the_lstm_tutorials_rule(losses, n_train_batches, max_epochs,
                                                        patience, frequency, fused):
    from dltut.trainer import ValidationPatience

    expected = lstm_tutorial_loop(losses, n_train_batches, max_epochs, patience, frequency)
    model = FakeLSTM(losses, n_train_batches, fused)
    result = train(model, n_train_batches, ValidationPatience(max_epochs, patience, frequency))
    assert [(v.iter, v.validation_loss, v.new_best, v.bad_counter)
            for v in result.history] == expected["trace"]
    assert result.stop_reason == expected["stop_reason"]
    assert (result.best_iter, result.iterations, result.epochs) == (
        expected["best_iter"], expected["iterations"], expected["epochs"])
    assert all(v.train_loss == 0.5 and v.test_score == 1.0 - v.validation_loss
               for v in result.history)
    assert model.updates == result.iterations


def test_validation_patience_resumes_as_the_unbroken_run():
    from dltut.trainer import TrainState, ValidationPatience

    losses = list(numpy.random.RandomState(3).choice([0.2, 0.25, 0.3], 40))
    stopping = ValidationPatience(n_epochs=20, patience=2, validation_frequency=3)
    whole = train(FakeLSTM(losses, 5), 5, stopping)
    states = []
    first = train(FakeLSTM(losses, 5), 5, ValidationPatience(2, 2, 3),
                  checkpoint=lambda state: states.append(copy.deepcopy(state)),
                  checkpoint_every=1)
    assert first.stop_reason == "n_epochs"
    model = FakeLSTM(losses, 5)
    model.validations = len(states[-1].history)
    resumed = train(model, 5, stopping, state=states[-1])
    assert resumed.history == whole.history and resumed.stop_reason == whole.stop_reason
    with pytest.raises(ValueError, match="patience must be an integer >= 1"):
        ValidationPatience(patience=0)
    with pytest.raises(ValueError, match="not ValidationPatience"):
        train_lockstep(None, 5, [stopping])


# ----------------------------------------------------------------------------------------------
# EpochPatience: the segmentation tutorials' rule


def segmentation_tutorial_loop(jaccards, num_epochs, max_patience):
    """The epoch loop of train_fcn1D.py / train_unet.py / train_fcn8.py, transcribed (its mean
    validation Jaccard index from ``jaccards``, one per epoch; the model saved at each best)."""
    patience, best_jacc_val, saved, trace = 0, None, None, []
    for epoch in range(num_epochs):
        jacc = jaccards[epoch]
        new_best = False
        if epoch == 0:
            best_jacc_val = jacc
        elif epoch > 1 and jacc > best_jacc_val:
            best_jacc_val, patience, saved, new_best = jacc, 0, epoch, True
        else:
            patience += 1
        trace.append((epoch, new_best, patience))
        if patience == max_patience or epoch == num_epochs - 1:
            break
    return trace, saved


class FakeSegmentation:
    """Validation scores from a list of mean Jaccard indices, one per epoch; training outputs
    (cost, accuracy) made from the update's index."""

    fused = False

    def __init__(self, jaccards):
        self.jaccards, self.validations, self.updates = list(jaccards), 0, 0

    def train_minibatches(self, first, count):
        rows = [[1.0 / (self.updates + i + 1), 0.5] for i in range(count)]
        self.updates += count
        return numpy.array(rows)

    def validation_scores(self):
        jaccard = self.jaccards[self.validations]
        self.validations += 1
        return {"cost": 0.25, "accuracy": 0.75, "jaccard": numpy.array([jaccard, jaccard])}

    def get_params(self):
        return [numpy.array(self.validations)]


@pytest.mark.parametrize("jaccards, num_epochs, max_patience", [
    ([0.5, 0.9, 0.6, 0.7, 0.4, 0.4, 0.8], 7, 3),  # the second epoch is never a best
    ([0.5, 0.4, 0.3, 0.2, 0.1], 5, 2),  # never better: stops after two stale epochs past 0
    ([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 6, 1),  # always better, but the second: patience 1 stops
    ([float("nan"), 0.5, 0.6, 0.7], 4, 5),  # a NaN mark: nothing beats it
    (list(numpy.random.RandomState(4).uniform(0.3, 0.6, 40)), 40, 4),
])
def test_epoch_patience_is_the_segmentation_tutorials_rule(jaccards, num_epochs, max_patience):
    from dltut.trainer import EpochPatience

    trace, saved = segmentation_tutorial_loop(jaccards, num_epochs, max_patience)
    n_train_batches = 3
    result = train(FakeSegmentation(jaccards), n_train_batches,
                   EpochPatience(num_epochs, max_patience))
    assert [(v.epoch - 1, v.new_best, v.bad_counter) for v in result.history] == trace
    assert result.epochs == len(trace)
    assert result.stop_reason == ("max_patience" if trace[-1][2] == max_patience
                                  else "n_epochs")
    if saved is None:
        assert result.best_params is None and math.isinf(result.best_validation_loss)
    else:
        assert result.best_params == [saved + 1] and result.best_iter == (saved + 1) * 3 - 1
    first = result.history[0].scores
    assert first["train_cost"] == (1.0 + 1 / 2 + 1 / 3) / 3 and first["train_accuracy"] == 0.5
    assert result.history[0].validation_loss == 0.25


def test_epoch_patience_state_round_trips_and_resumes_as_the_unbroken_run():
    from dltut.trainer import EpochPatience, TrainState

    jaccards = list(numpy.random.RandomState(5).uniform(0.3, 0.6, 30))
    stopping = EpochPatience(n_epochs=30, max_patience=4)
    whole = train(FakeSegmentation(jaccards), 3, stopping)
    states = []
    train(FakeSegmentation(jaccards), 3, EpochPatience(5, 4),
          checkpoint=lambda state: states.append(copy.deepcopy(state)), checkpoint_every=1)
    fields = json.loads(json.dumps(states[-1].to_dict()))  # what a checkpoint holds
    best, costs = states[-1].best_params, numpy.asarray(states[-1].costs)
    state = TrainState.from_dict(fields, best, costs)
    model = FakeSegmentation(jaccards)
    model.validations, model.updates = len(state.history), state.iteration + 1
    resumed = train(model, 3, stopping, state=state)
    assert resumed.history == whole.history and resumed.stop_reason == whole.stop_reason
    bad = dict(fields, history=[dict(fields["history"][0], scores={"x": "y"})])
    with pytest.raises(ValueError, match="scores must be an object of numbers"):
        TrainState.from_dict(bad, best, costs)
    with pytest.raises(ValueError, match="max_patience must be an integer >= 1"):
        EpochPatience(max_patience=0)


def test_epoch_patience_on_one_class_is_the_tutorials_early_stop_class():
    """train_unet.py's and train_fcn8.py's early_stop_class: the epochs are judged by that
    class's Jaccard index (which the record's valid_jaccard then holds), not by the mean."""
    from dltut.trainer import EpochPatience

    class TwoClasses(FakeSegmentation):
        def validation_scores(self):
            scores = super().validation_scores()
            scores["jaccard"] = numpy.array([scores["jaccard"][0], 1.0 - scores["jaccard"][0]])
            return scores

    jaccards = [0.5, 0.9, 0.6, 0.7, 0.4, 0.4, 0.8]
    for early_stop_class, judged in ((0, jaccards), (1, [1.0 - j for j in jaccards])):
        trace, _ = segmentation_tutorial_loop(judged, 7, 3)
        result = train(TwoClasses(jaccards), 3, EpochPatience(7, 3, early_stop_class))
        assert [(v.epoch - 1, v.new_best, v.bad_counter) for v in result.history] == trace
        assert [v.scores["valid_jaccard"] for v in result.history] == judged[:len(trace)]
    mean = train(TwoClasses(jaccards), 3, EpochPatience(7, 3))
    assert {v.scores["valid_jaccard"] for v in mean.history} == {0.5}
    with pytest.raises(ValueError, match="early_stop_class must be an integer >= 0"):
        EpochPatience(early_stop_class=-1)


class _Iterator:
    """Batches ``{'data': i, 'labels': [[i, i]]}`` for i = 0, 1, 2, ... (as many as asked)."""

    nbatches, non_void_nclasses = 2, 2

    def __init__(self):
        self.drawn = 0

    def next(self):
        self.drawn += 1
        return {"data": self.drawn - 1, "labels": numpy.full((1, 2), self.drawn - 1)}


def test_batches_feed_the_functions_and_add_up_as_the_tutorials():
    from dltut.trainer import Batches

    calls, decays = [], []

    def train_fn(x, labels):
        calls.append((x, labels.shape))
        return numpy.float32(x + 0.5), numpy.float32(0.25)

    def valid_fn(x, labels):
        return numpy.float32(x), numpy.float32(0.5), numpy.array([[x, 0.0], [x + 1.0, 0.0]])

    model = Batches(train_fn, valid_fn, _Iterator(), _Iterator(), [],
                    at_epoch_start=lambda: decays.append(len(calls)))
    assert model.train_minibatches(0, 2).tolist() == [[0.5, 0.25], [1.5, 0.25]]
    assert calls == [(0, (2,)), (1, (2,))] and decays == [0]
    with numpy.errstate(all="raise"):  # the class with no pixel is NaN, without a warning
        scores = model.validation_scores()
    assert scores["cost"] == 0.5 and scores["accuracy"] == 0.5
    assert scores["jaccard"][0] == 1 / 3 and math.isnan(scores["jaccard"][1])
    from dltut.trainer import TrainState

    # a resumed run draws the batches in the unbroken run's order: an epoch's updates, then
    # its validation (iterators augmenting from one generator must draw as they did)
    drawn = []

    class Logged(_Iterator):
        def __init__(self, name):
            super().__init__()
            self.name = name

        def next(self):
            drawn.append(self.name)
            return super().next()

    resumed = Batches(train_fn, valid_fn, Logged("train"), Logged("valid"), [])
    validated = [types.SimpleNamespace(iter=1)]  # after the first epoch's 2 updates
    resumed.resume(TrainState(patience=1, iteration=3, history=validated))
    assert (resumed.train_iter.drawn, resumed.valid_iter.drawn) == (4, 2)
    assert drawn == ["train", "train", "valid", "valid", "train", "train"]
