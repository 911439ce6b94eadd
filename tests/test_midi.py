"""dltut.midi: hand-made MIDI files (tempo changes, overlapping notes, note-ons of velocity 0,
notes never ended, a tempo map in another track) read as the piano rolls computed here by hand;
midiwrite's messages; midiwrite then midiread gives the roll back; bad input."""

import io
import sys

import numpy
import pytest

from dltut import midi
from dltut.midi import MidiError, midiread, midiwrite

mido = pytest.importorskip("mido")


def _write(path, tracks, ticks_per_beat=96, type=None):
    """A MIDI file of ``tracks``, each a list of (absolute tick, message) in order."""
    midi_file = mido.MidiFile(type=type if type is not None else (0 if len(tracks) == 1 else 1),
                              ticks_per_beat=ticks_per_beat)
    for events in tracks:
        track, last = mido.MidiTrack(), 0
        for tick, message in events:
            track.append(message.copy(time=tick - last))
            last = tick
        midi_file.tracks.append(track)
    midi_file.save(path)
    return path


def on(note, velocity=64, channel=0):
    return mido.Message("note_on", note=note, velocity=velocity, channel=channel)


def off(note, channel=0):
    return mido.Message("note_off", note=note, velocity=64, channel=channel)


def tempo(microseconds_per_beat):
    return mido.MetaMessage("set_tempo", tempo=microseconds_per_beat)


def _roll(length, notes, r=(21, 109)):
    """A piano roll of ``length`` frames with ``{note: [(first frame, end frame), ...]}`` on."""
    roll = numpy.zeros((length, r[1] - r[0]))
    for note, spans in notes.items():
        for first, end in spans:
            roll[first:end, note - r[0]] = 1
    return roll


def test_tempo_changes_overlaps_and_velocity_zero(tmp_path):
    # 96 ticks a beat; 0.5 s a beat up to tick 192 (1.0 s), then 1 s a beat
    path = _write(tmp_path / "a.mid", [[
        (0, tempo(500_000)),
        (0, on(60)), (0, on(72)),
        (30, on(48)),  # 30 * 0.5 / 96 = 0.15625 s: frame ceil(0.625) = 1
        (48, on(72)),  # 72 again at 0.25 s, while the first 72 still sounds
        (96, off(60)),  # 0.5 s
        (96, off(72)),  # ends the most recent 72 (from 0.25 s); the first is never ended
        (96, on(64)),
        (100, on(48, velocity=0)),  # a note-off: 0.5208 s, frame ceil(2.083) = 3
        (144, off(72)),  # the most recent 72 has ended: nothing
        (192, on(64, velocity=0)),  # 1.0 s
        (192, tempo(1_000_000)),
        (192, on(67)),
        (288, off(67)),  # 1.0 + 96 / 96 * 1.0 = 2.0 s
        (300, on(69)),  # never ended: dropped
    ]])
    got = midiread(path, dt=0.25)
    expected = _roll(8, {60: [(0, 2)], 72: [(1, 2)], 48: [(1, 3)], 64: [(2, 4)], 67: [(4, 8)]})
    numpy.testing.assert_array_equal(got.piano_roll, expected)
    assert got.piano_roll.dtype == numpy.float64
    assert [n[0] for n in got.notes] == [60, 48, 72, 64, 67]  # in order of start, 72's first gone
    assert got.notes[-1][1:] == [1.0, 2.0]


def test_frames_round_up_and_range(tmp_path):
    # default tempo (no set_tempo), 100 ticks a beat: a tick is 5 ms; dt 0.2 is 40 ticks
    path = _write(tmp_path / "b.mid", [[
        (0, on(21)), (40, off(21)),  # exactly frame 0
        (41, on(108)), (81, off(108)),  # 0.205 to 0.405 s: frames ceil(1.025)=2 to ceil(2.025)=3
        (200, on(50)), (201, off(50)),  # 1.0 to 1.005 s: frames 5 to 6
    ]], ticks_per_beat=100)
    numpy.testing.assert_array_equal(
        midiread(path).piano_roll, _roll(6, {21: [(0, 1)], 108: [(2, 3)], 50: [(5, 6)]}))
    # a narrower range: columns from r[0]
    path = _write(tmp_path / "c.mid", [[(0, on(60)), (40, off(60)), (40, on(62)), (80, off(62))]],
                  ticks_per_beat=100)
    numpy.testing.assert_array_equal(midiread(path, r=(60, 63)).piano_roll,
                                     [[1, 0, 0], [0, 0, 1]])


def test_a_tempo_map_in_its_own_track_times_every_track(tmp_path):
    # format 1: the tempo changes at tick 96 in track 0, the notes are in track 1. The tutorial's
    # reader carried the tempo state reached at the end of track 0 into track 1 and timed the
    # note at tick 48 0.5 + 1.0 * (48 - 96) / 96 = 0 s; the tempo map times it 0.25 s.
    path = _write(tmp_path / "d.mid", [
        [(0, tempo(500_000)), (96, tempo(1_000_000))],
        [(48, on(60)), (96, off(60)), (96, on(62)), (192, off(62))],
    ])
    got = midiread(path, dt=0.25)
    assert [n[1:] for n in got.notes] == [[0.25, 0.5], [0.5, 1.5]]
    numpy.testing.assert_array_equal(got.piano_roll, _roll(6, {60: [(1, 2)], 62: [(2, 6)]}))


def test_midiwrite_messages(tmp_path):
    roll = numpy.zeros((4, 88))
    roll[1:3, 60 - 21] = 1  # note 60 in frames 1 and 2
    roll[2, 64 - 21] = 0.5  # nonzero is on
    path = tmp_path / "w.mid"
    midiwrite(path, roll, dt=0.2, patch=5)
    written = mido.MidiFile(path)
    assert (written.type, written.ticks_per_beat, len(written.tracks)) == (0, 100, 1)
    got = [(m.type, getattr(m, "note", None), getattr(m, "velocity", None), m.time)
           for m in written.tracks[0]]
    # the empty last frame is not written (end_of_track 0 ticks after the last note-off)
    assert got == [("program_change", None, None, 0), ("note_on", 60, 90, 40),
                   ("note_on", 64, 90, 40), ("note_off", 60, 0, 40), ("note_off", 64, 0, 0),
                   ("end_of_track", None, None, 0)]
    assert written.tracks[0][0].program == 5


def test_round_trip(tmp_path):
    rng = numpy.random.RandomState(3)
    roll = (rng.uniform(size=(120, 88)) < 0.08).astype(float)
    roll[:3] = 0  # empty frames at the start are kept (the first note-on waits for them)
    roll[-1, 10] = 1  # the last frame sounds: nothing is cut at the end
    path = tmp_path / "round.mid"
    midiwrite(path, roll)
    numpy.testing.assert_array_equal(midiread(path).piano_roll, roll)
    midiwrite(path, roll, r=(21, 109), dt=0.25)
    numpy.testing.assert_array_equal(midiread(path, dt=0.25).piano_roll, roll)


def test_round_trip_at_dt_03_moves_notes_as_the_tutorial_did(tmp_path):
    # dt 0.3 is 60 ticks of 5 ms; the time read back for tick 60 k, 500000 * 60 k * 1e-6 / 100,
    # rounds above 0.3 k for some k (7 and 9 among them), so ceil(t / 0.3) = k + 1 there
    roll = numpy.zeros((12, 88))
    roll[numpy.arange(12), numpy.arange(12)] = 1  # note 21 + k in frame k
    path = tmp_path / "r3.mid"
    midiwrite(path, roll, dt=0.3)
    got = midiread(path, dt=0.3)
    moved = [k for k in range(12) if numpy.ceil(500000 * (60 * k) * 1e-6 / 100 / 0.3) != k]
    assert moved == [7, 9]
    for k, (note, start, end) in enumerate(got.notes):
        assert note == 21 + k and start == pytest.approx(0.3 * k, abs=1e-12)
        frames = got.piano_roll[:, k].nonzero()[0].tolist()
        first = k + 1 if k in moved else k
        last_end = k + 2 if k + 1 in moved else k + 1  # the note's end is frame k + 1's start
        assert frames == list(range(first, last_end))


def test_bad_files_and_values(tmp_path):
    low = _write(tmp_path / "low.mid", [[(0, on(20)), (10, off(20))]])
    with pytest.raises(MidiError, match=r"note 20 at 0 s is outside r=\(21, 109\)"):
        midiread(low)
    empty = _write(tmp_path / "empty.mid", [[(0, on(60))]])
    with pytest.raises(MidiError, match="no complete note"):
        midiread(empty)
    junk = tmp_path / "junk.mid"
    junk.write_bytes(b"not a midi file at all")
    with pytest.raises(MidiError, match="junk.mid: not a readable MIDI file"):
        midiread(junk)
    with pytest.raises(FileNotFoundError):
        midiread(tmp_path / "missing.mid")
    for bad in ((21,), (60, 21), (21, 200), ("a", 109)):
        with pytest.raises(ValueError, match="r must be"):
            midiread(low, r=bad)
    for bad in (0, -0.2, float("nan"), "0.2"):
        with pytest.raises(ValueError, match="dt must be a positive number"):
            midiread(low, dt=bad)
    out = tmp_path / "out.mid"
    with pytest.raises(ValueError, match=r"piano_roll must be \(frames, 88\)"):
        midiwrite(out, numpy.zeros((3, 87)))
    with pytest.raises(ValueError, match="shorter than a tick"):
        midiwrite(out, numpy.zeros((3, 88)), dt=0.001)
    with pytest.raises(ValueError, match="patch must be"):
        midiwrite(out, numpy.zeros((3, 88)), patch=128)
    assert not out.exists()


def test_a_note_ending_days_later_is_refused_before_the_roll_is_made(tmp_path):
    # 2**27 ticks at the slowest tempo: a note of about 31 years, a roll of 615 GiB
    late = _write(tmp_path / "late.mid", [[(0, mido.MetaMessage("set_tempo", tempo=2**24 - 1)),
                                           (0, on(60)), (2**27, off(60))]])
    with pytest.raises(MidiError, match=r"late.mid: a note ends at .* s, a piano roll of .* "
                                        r"frames of 0.2 s, over dltut's limit of 64 MiB"):
        midiread(late)


def test_a_failed_write_leaves_no_file(tmp_path, monkeypatch):
    out = tmp_path / "partial.mid"
    real_write = midi.atomic_write

    def failing_write(path, write):
        def fail(file):
            file.write(b"MThd")
            raise OSError("disk full")

        return real_write(path, fail)

    monkeypatch.setattr(midi, "atomic_write", failing_write)
    with pytest.raises(OSError, match="partial.mid: cannot write .disk full"):
        midiwrite(out, numpy.ones((2, 88)))
    assert list(tmp_path.iterdir()) == []


def _mido_file(roll, dt, patch, low=21):
    """The messages module midi's docstring describes, saved by mido: what midiwrite wrote when
    it wrote through mido."""
    track = mido.MidiTrack([mido.Message("program_change", program=patch, time=0)])
    frames = [set((frame.nonzero()[0] + low).tolist()) for frame in roll]
    t = 0
    for i, notes in enumerate(frames):
        for note in sorted(notes - (frames[i - 1] if i else set())):
            track.append(mido.Message("note_on", note=note, velocity=90, time=t))
            t = 0
        t += int(dt * 200)
        for note in sorted(notes - (frames[i + 1] if i + 1 < len(frames) else set())):
            track.append(mido.Message("note_off", note=note, velocity=0, time=t))
            t = 0
    track.append(mido.MetaMessage("end_of_track", time=0))
    written = mido.MidiFile(type=0, ticks_per_beat=100)
    written.tracks.append(track)
    stream = io.BytesIO()
    written.save(file=stream)
    return stream.getvalue()


@pytest.mark.parametrize("frames, density, dt, patch", [
    (30, 0.1, 0.2, 0), (200, 0.3, 0.3, 5), (3, 0.0, 0.25, 0), (50, 0.9, 2.0, 127),
    (1, 1.0, 0.01, 3)])
def test_midiwrite_needs_no_mido_and_writes_midos_bytes(tmp_path, monkeypatch, frames, density,
                                                         dt, patch):
    """Writing is done by dltut (the generated samples of a run with no extra installed): the
    bytes mido saves for the same messages (running status, variable-length times over 127
    ticks at dt 2.0)."""
    roll = numpy.random.RandomState(frames).uniform(size=(frames, 88)) < density
    expected = _mido_file(roll, dt, patch)
    monkeypatch.setitem(sys.modules, "mido", None)
    midiwrite(tmp_path / "w.mid", roll, dt=dt, patch=patch)
    assert (tmp_path / "w.mid").read_bytes() == expected


def test_missing_mido_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mido", None)
    with pytest.raises(ImportError, match=r"midiread needs mido .*pip install 'dltut\[midi\]'"):
        midi.midiread(tmp_path / "any.mid")
