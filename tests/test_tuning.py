"""dltut.backend.tuning: XLA's CPU setting measured per machine and program until two quiet
measurements agree, and remembered.

The fast tests drive ``tuning.choose`` with probes that sleep (no JAX): which setting wins, that a
choice is remembered under this machine's key and reused there only (another CPU model, other
instruction-set flags, another jaxlib or XLA_FLAGS measure anew), that a corrupt or foreign file
is measured over and replaced, and who overrides the measurement. One test tunes a real JAX loop.
The slow tests check that the published logistic regression line prints under every candidate,
and run the logistic regression from an empty cache beside two busy processes, then alone.
"""

import json
import logging
import os
import subprocess
import sys
import time

import pytest

from conftest import run_script
import dltut
from dltut import engine
from dltut.backend import tuning


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty dltut cache, this process's choices forgotten, nothing forcing a setting."""
    monkeypatch.setenv("DLTUT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DLTUT_XLA_CPU", raising=False)
    monkeypatch.setattr(tuning, "_chosen", {})
    monkeypatch.setattr(tuning, "cpu_description",
                        lambda: ("Some CPU 9000", ("avx2", "fma", "sse2")))
    monkeypatch.setattr(tuning, "_jaxlib_version", lambda: "0.10.2")
    monkeypatch.setattr(tuning, "machine_is_quiet", lambda since: True)  # whatever else runs
    return tmp_path / "cache"


class Probe:
    """A probe factory: the setting named ``fast`` runs at once, the others sleep 3 ms."""

    def __init__(self, fast):
        self.fast, self.compiled = fast, []

    def __call__(self, options):
        setting = next(name for name in tuning.CANDIDATES if tuning.options(name) == options)
        self.compiled.append(setting)
        return (lambda: None) if setting == self.fast else (lambda: time.sleep(0.003))


def forget(monkeypatch):
    """A new process: its own choices are not in memory, only in the file."""
    monkeypatch.setattr(tuning, "_chosen", {})


def test_the_faster_setting_is_measured_kept_and_remembered(cache, monkeypatch):
    probe = Probe(fast="ynn-off")
    setting, why = tuning.choose("train_step float32[784, 10]", probe)
    assert setting == "ynn-off" and why.startswith("measured now")
    assert sorted(probe.compiled) == sorted(tuning.CANDIDATES)
    assert tuning.options(setting) == {"xla_cpu_experimental_ynn_fusion_type": ""}

    entry = tuning.remembered()["train_step float32[784, 10]"]
    assert entry["setting"] == "ynn-off"
    assert entry["seconds"]["xla-default"] >= 0.003 > entry["seconds"]["ynn-off"]

    assert entry["settled"] is False  # one measurement settles nothing

    forget(monkeypatch)  # the next run measures again; the same pick settles the choice
    again = Probe(fast="ynn-off")
    assert tuning.choose("train_step float32[784, 10]", again)[0] == "ynn-off"
    assert again.compiled and tuning.remembered()["train_step float32[784, 10]"]["settled"]

    forget(monkeypatch)  # a later run on the same machine measures nothing
    later = Probe(fast="xla-default")
    assert tuning.choose("train_step float32[784, 10]", later)[0] == "ynn-off"
    assert later.compiled == []
    # another program (other shapes) is measured for itself
    assert tuning.choose("train_step float32[784, 500]", later)[0] == "xla-default"
    assert later.compiled


def test_a_choice_made_on_a_busy_machine_does_not_stick(cache, monkeypatch):
    """The first run measures while other jobs hold the cores and noise favours ynn-off; the
    next, quiet run measures again and uses what a quiet measurement picks (the default here);
    a quiet run agreeing settles it, and a busy one never overturns a quiet pick."""
    program = "train_step float32[600, 784]"
    monkeypatch.setattr(tuning, "machine_is_quiet", lambda since: False)
    assert tuning.choose(program, Probe(fast="ynn-off"))[0] == "ynn-off"
    assert tuning.remembered()[program]["quiet"] is False

    monkeypatch.setattr(tuning, "machine_is_quiet", lambda since: True)
    forget(monkeypatch)
    assert tuning.choose(program, Probe(fast="xla-default"))[0] == "xla-default"
    assert not tuning.remembered()[program]["settled"]

    monkeypatch.setattr(tuning, "machine_is_quiet", lambda since: False)
    forget(monkeypatch)  # busy again, noise favouring ynn-off: the quiet pick stands
    assert tuning.choose(program, Probe(fast="ynn-off"))[0] == "xla-default"

    monkeypatch.setattr(tuning, "machine_is_quiet", lambda since: True)
    forget(monkeypatch)
    assert tuning.choose(program, Probe(fast="xla-default"))[0] == "xla-default"
    assert tuning.remembered()[program]["settled"] is True
    forget(monkeypatch)
    settled = Probe(fast="ynn-off")
    assert tuning.choose(program, settled)[0] == "xla-default" and settled.compiled == []


def test_quiet_means_other_processes_left_the_cores_alone_while_measuring(monkeypatch):
    """Busy is what others used of the CPUs between the two readings (busy time less this
    process's own), not the load average, which lags a minute behind."""
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))  # not consulted
    since = (100.0, 10.0, 50.0)  # busy s, own s, wall s
    monkeypatch.setattr(tuning, "cpu_use", lambda: (102.1, 12.0, 51.0))  # others 0.1 core
    assert tuning.machine_is_quiet(since)
    monkeypatch.setattr(tuning, "cpu_use", lambda: (103.5, 12.0, 51.0))  # others 1.5 cores
    assert not tuning.machine_is_quiet(since)


def test_without_the_cpus_busy_time_the_load_average_decides(monkeypatch):
    monkeypatch.setattr(tuning, "cpu_use", lambda: (None, 1.0, 1.0))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.1, 1.0, 1.0))
    assert tuning.machine_is_quiet((None, 0.0, 0.0))
    monkeypatch.setattr(os, "getloadavg", lambda: (3.0, 2.0, 1.0))
    assert not tuning.machine_is_quiet((None, 0.0, 0.0))


def test_this_machines_cpu_use_is_read():
    busy, own, wall = tuning.cpu_use()
    sum(range(3_000_000))  # some CPU time of this process's own
    busy2, own2, wall2 = tuning.cpu_use()
    assert own2 > own and wall2 > wall
    if os.path.exists("/proc/stat"):
        assert busy2 - busy >= 0 and busy2 - busy <= (wall2 - wall) * os.cpu_count() + 0.05


@pytest.mark.parametrize("change", ["cpu model", "cpu flags", "jaxlib", "XLA_FLAGS"])
def test_a_choice_made_on_one_machine_is_not_reused_on_another(cache, monkeypatch, change):
    tuning.choose("train_step", Probe(fast="ynn-off"))
    first_key = tuning.machine_key()
    forget(monkeypatch)
    if change == "cpu model":
        monkeypatch.setattr(tuning, "cpu_description",
                            lambda: ("Other CPU", ("avx2", "fma", "sse2")))
    elif change == "cpu flags":  # same name, another instruction set (AVX-512 or not)
        monkeypatch.setattr(tuning, "cpu_description",
                            lambda: ("Some CPU 9000", ("avx2", "avx512f", "fma", "sse2")))
    elif change == "jaxlib":
        monkeypatch.setattr(tuning, "_jaxlib_version", lambda: "0.11.0")
    else:
        monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_max_isa=AVX2")
    assert tuning.machine_key() != first_key
    probe = Probe(fast="xla-default")
    assert tuning.choose("train_step", probe)[0] == "xla-default"
    assert probe.compiled, "measured anew"
    # both machines' choices are kept side by side
    machines = json.loads((cache / tuning.FILE_NAME).read_text())["machines"]
    assert machines[first_key]["train_step"]["setting"] == "ynn-off"
    assert machines[tuning.machine_key()]["train_step"]["setting"] == "xla-default"


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b"[1, 2]", b'{"format": 99}',
                                     b'{"format": 1, "machines": {"k": 3}}'])
def test_a_corrupt_file_is_measured_over_and_replaced(cache, monkeypatch, caplog, content):
    cache.mkdir()
    (cache / tuning.FILE_NAME).write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="dltut.backend.tuning"):
        setting, why = tuning.choose("train_step", Probe(fast="ynn-off"))
    assert setting == "ynn-off" and why.startswith("measured now")
    assert any(str(cache / tuning.FILE_NAME) in record.getMessage() for record in caplog.records)
    content = json.loads((cache / tuning.FILE_NAME).read_text())
    assert content["format"] == 1
    assert content["machines"][tuning.machine_key()]["train_step"]["setting"] == "ynn-off"
    assert [name for name in cache.iterdir()] == [cache / tuning.FILE_NAME]  # no temporary left


def test_a_remembered_setting_that_no_longer_exists_is_measured_anew(cache, monkeypatch):
    cache.mkdir()
    (cache / tuning.FILE_NAME).write_text(json.dumps(
        {"format": 1, "machines": {tuning.machine_key(): {"train_step": {"setting": "gone"}}}}))
    probe = Probe(fast="ynn-off")
    assert tuning.choose("train_step", probe)[0] == "ynn-off" and probe.compiled


def test_the_default_stays_unless_another_is_clearly_faster():
    assert tuning.pick({"xla-default": 1.0, "ynn-off": 0.97}) == "xla-default"
    assert tuning.pick({"xla-default": 1.0, "ynn-off": 0.90}) == "ynn-off"
    assert tuning.pick({"xla-default": 0.5, "ynn-off": 0.90}) == "xla-default"


def test_the_environment_overrides_the_measurement(cache, monkeypatch):
    tuning.choose("train_step", Probe(fast="ynn-off"))
    probe = Probe(fast="ynn-off")
    monkeypatch.setenv("DLTUT_XLA_CPU", "xla-default")
    assert tuning.choose("train_step", probe) == ("xla-default", "DLTUT_XLA_CPU=xla-default")
    monkeypatch.setenv("DLTUT_XLA_CPU", "fastest")
    with pytest.raises(ValueError, match=r"DLTUT_XLA_CPU='fastest': choose one of auto, "
                                         r"xla-default, ynn-off"):
        tuning.choose("train_step", probe)
    monkeypatch.delenv("DLTUT_XLA_CPU")
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_experimental_ynn_fusion_type=")
    setting, why = tuning.choose("train_step", probe)
    assert setting is None and tuning.options(setting) is None  # XLA_FLAGS rules
    assert why == "XLA_FLAGS sets xla_cpu_experimental_ynn_fusion_type"
    assert probe.compiled == []


def test_a_read_only_cache_still_runs(cache, monkeypatch, caplog):
    def refuse(machines):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tuning, "_write", refuse)
    with caplog.at_level(logging.WARNING, logger="dltut.backend.tuning"):
        assert tuning.choose("train_step", Probe(fast="ynn-off"))[0] == "ynn-off"
    assert "could not remember" in caplog.text


def test_info_lines_name_the_key_and_the_choices(cache, monkeypatch):
    tuning.choose("train_step float32[784, 10]", Probe(fast="ynn-off"))
    lines = dict(tuning.settings_report())
    assert lines["XLA CPU key"].startswith("Some CPU 9000 | flags ")
    assert "vector ISA: avx2 fma" in lines["XLA CPU key"]
    assert lines["XLA programs remembered"].startswith("1 (ynn-off 1; 0 settled) in ")
    assert "--verbose" in lines["XLA programs remembered"]
    assert "  train_step float32[784, 10]" not in lines  # the full list is verbose's
    lines = dict(tuning.settings_report(verbose=True))
    assert lines["  train_step float32[784, 10]"].startswith("ynn-off (xla-default ")
    monkeypatch.setenv("DLTUT_XLA_CPU", "ynn-off")
    assert dict(tuning.settings_report())["XLA CPU setting"] == "ynn-off: DLTUT_XLA_CPU=ynn-off"


def test_a_jax_loop_and_its_error_counts_are_each_tuned(cache, tiny_mnist, tmp_path):
    """A real training run in JAX mode on the CPU measures its update's loop under each
    candidate, and its validation and test sweeps' each on its own (LeNet's forward sweep and
    its update prefer different settings), and remembers a setting for each."""
    if "jax" not in engine.modes():
        pytest.skip("JAX mode is PyTensor's only")
    pytest.importorskip("jax")
    dltut.sgd_optimization_mnist(n_epochs=1, dataset=tiny_mnist, batch_size=100,
                                 out=tmp_path / "lr.npz", mode="jax")
    programs = tuning.remembered()
    assert len(programs) == 3, programs
    names = sorted(program.split()[0] for program in programs)
    assert names == ["test_model", "train_model", "validate_model"], names
    (train_key,) = [key for key in programs if key.startswith("train_model")]
    assert train_key.startswith("train_model float32[784, 10] float32[10] float32[600, 784] "
                                "int32[600]")
    for entry in programs.values():
        assert set(entry["seconds"]) == set(tuning.CANDIDATES)
        assert entry["setting"] in tuning.CANDIDATES


@pytest.mark.slow
@pytest.mark.parametrize("setting", list(tuning.CANDIDATES))
def test_the_published_logreg_line_prints_under_every_setting(setting, monkeypatch, caplog):
    """logistic_sgd.py's published run, 7.500000 % / 7.489583 % after 74 epochs, in float32 JAX
    mode under each candidate setting: the choice does not change a printed number."""
    if "jax" not in engine.modes():
        pytest.skip("JAX mode is PyTensor's only")
    monkeypatch.setenv("DLTUT_XLA_CPU", setting)
    with caplog.at_level(logging.INFO):
        result = dltut.sgd_optimization_mnist(floatX="float32", mode="jax")
    lines = [record.getMessage() for record in caplog.records]
    assert "epoch 1, minibatch 83/83, validation error 12.458333 %" in lines
    assert ("Optimization complete with best validation score of 7.500000 %,with test "
            "performance 7.489583 %") in lines
    assert result.epochs == 74


def _logreg_first_epoch(home):
    """``scripts/logreg.py`` for one epoch with ``home`` as its home and ``home/cache`` as dltut's
    cache, XLA's CPU settings measured (``auto``); its output and the settings file's entries
    (one machine key: the command's)."""
    cache = home / "cache"
    run = run_script("logreg.py", "--n-epochs", 1, "--verbose", cwd=home, HOME=str(home),
                     DLTUT_CACHE=str(cache), DLTUT_XLA_CPU="auto")
    assert run.returncode == 0, run.stderr[-3000:]
    with open(cache / tuning.FILE_NAME) as file:
        (entries,) = json.load(file)["machines"].values()
    return run.stdout + run.stderr, entries


@pytest.mark.slow
def test_a_first_run_beside_two_busy_processes_does_not_lock_in_its_choice(tmp_path):
    """A new user's first run (empty home and cache) while two other jobs hold both cores: every
    setting it measured is marked busy and unsettled. Then, the machine to itself, the next run
    measures again and trains under what that quiet measurement picked."""
    if "jax" not in engine.modes():
        pytest.skip("JAX mode is PyTensor's only")
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        _, entries = _logreg_first_epoch(tmp_path)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert {"train_model", "validate_model", "test_model"} <= {key.split()[0] for key in entries}
    assert all(entry["quiet"] is False and entry["settled"] is False
               for entry in entries.values()), entries

    since = tuning.cpu_use()
    time.sleep(2)
    if not tuning.machine_is_quiet(since):
        pytest.skip("other jobs share this machine: the quiet half of the test needs it alone")
    output, entries = _logreg_first_epoch(tmp_path)
    if not all(entry["quiet"] for entry in entries.values()):
        pytest.skip("other jobs started during the quiet run")
    for program, entry in entries.items():
        assert entry["settled"] is False  # one quiet measurement settles nothing
        assert entry["setting"] == tuning.pick(entry["seconds"])
        assert f"XLA CPU setting for {program}: {entry['setting']} (measured now" in output
