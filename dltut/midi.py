"""MIDI files as piano rolls and back: the RNN-RBM tutorial's ``midi/utils.py``, reading on mido.

A piano roll is a binary matrix, one row per frame of ``dt`` seconds and one column per MIDI note
number in ``r = (low, high)`` (``low`` included, ``high`` not: the default ``(21, 109)`` is the
88 keys of a piano). The tutorial read and wrote MIDI files with a modified copy of an old Python 2
MIDI package, shipped apart from its repository (``midi.zip`` on the LISA lab's site); these two
functions compute what its ``midiread`` and ``midiwrite`` computed: reading on ``mido``
(``pip install 'dltut[midi]'``), writing with no extra (the bytes mido saves for the same
messages, so that a run on the made piano rolls shipped with dltut writes its samples offline).

**Reading** (``midiread``). Event times in seconds follow the tempo map (500,000 microseconds a
beat until the first ``set_tempo``), with the tutorial's arithmetic: the time of tick ``x`` after
the tempo change at tick ``b`` (reached at ``t_b`` seconds) is
``t_b + tempo * (x - b) * 1e-6 / ticks_per_beat``, evaluated left to right in float64. A note-on
of velocity 0 is a note-off. A note-off ends the most recent note of its pitch (any channel) if
that note is still sounding, and does nothing otherwise; notes never ended are dropped. A note
from ``t_on`` to ``t_off`` seconds sounds in the frames ``ceil(t_on / dt)`` up to, not including,
``ceil(t_off / dt)``, and the roll has ``ceil(t_end / dt)`` frames, ``t_end`` the latest note end:

.. math::
    roll[i, n - low] = 1 \\iff \\exists\\ note\\ n: \\lceil t_{on} / dt \\rceil \\le i <
    \\lceil t_{off} / dt \\rceil

One deliberate difference: the tutorial's reader carried its tempo state from one track to the
next, while each track's ticks restarted at 0, so in a multi-track (format 1) file whose tempo
changes after tick 0, the notes of the tracks after the tempo track got wrong (even negative)
times. Here every track reads the one tempo map, as the MIDI standard says. Files with one track,
or whose tempo is set at tick 0 only, read as the tutorial read them.

**Writing** (``midiwrite``). One track (format 0), 100 ticks a beat and no tempo event (so the
default 500,000 microseconds a beat: a tick is 5 ms), a program change to ``patch`` on channel 0,
then for each frame the note-ons (velocity 90) of the notes that start there, ``int(dt * 200)``
ticks, and the note-offs of the notes that stop after it. Empty frames at the end are not written.
``int(dt * 200)`` truncates, so a frame lasts a whole number of ticks: with ``dt=0.3`` 60 ticks,
0.3 s, but the times read back (``500000 * ticks * 1e-6 / 100``) round just above some multiples
of 0.3, so ``midiread(..., dt=0.3)`` of a file written with ``dt=0.3`` moves some notes one frame
later, as the tutorial's did; ``dt=0.2`` (midiread's default) reads back what was written.
"""

import dataclasses
import math
import numbers
import os
import struct

import numpy

from dltut.atomic import atomic_write

DEFAULT_TEMPO = 500_000  # microseconds a beat until a set_tempo event (120 beats a minute)
WRITE_TICKS_PER_BEAT = 100  # midiwrite's division: with the default tempo a tick is 5 ms
WRITE_VELOCITY = 90  # of midiwrite's note-ons
PIANO = (21, 109)  # MIDI note numbers of the piano's 88 keys, the last excluded
# The largest piano roll midiread builds: hours of music at the tutorial's dt (88 keys, float64,
# 0.3 s frames: 64 MiB is about 8 days); a note ending later is a damaged or crafted file.
MAX_ROLL_BYTES = 64 * 2**20


class MidiError(ValueError):
    """A MIDI file that cannot be read as a piano roll, or a piano roll that cannot be written."""


def _mido(what):
    try:
        import mido
    except ImportError as error:
        raise ImportError(f"{what} needs mido ({error}); pip install 'dltut[midi]' "
                          "(or pip install mido)") from None
    return mido


def check_range(r):
    """``r`` as a pair of ints ``(low, high)`` with ``0 <= low < high <= 128``, or a ValueError."""
    try:
        low, high = r
    except (TypeError, ValueError):
        raise ValueError(f"r must be a pair (lowest note, highest note + 1), got {r!r}") from None
    if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (low, high)) \
            or not 0 <= low < high <= 128:
        raise ValueError(f"r must be MIDI note numbers (low, high) with 0 <= low < high <= 128 "
                         f"(the piano: {PIANO}), got {r!r}")
    return int(low), int(high)


def check_dt(dt):
    """``dt`` as a positive finite float, or a ValueError."""
    if isinstance(dt, bool) or not isinstance(dt, numbers.Real) or not 0 < dt < math.inf:
        raise ValueError(f"dt must be a positive number of seconds per frame, got {dt!r}")
    return float(dt)


@dataclasses.dataclass
class MidiRead:
    """What ``midiread`` read: the tutorial's ``midiread`` object had these two attributes."""

    notes: list  # [note number, start (s), end (s)] of every complete note, in order of start
    piano_roll: numpy.ndarray  # (ceil(t_end / dt), high - low) float64 of 0 and 1


def midiread(filename, r=PIANO, dt=0.2):
    """Read the MIDI file ``filename`` as a piano roll of the notes ``r`` in frames of ``dt``
    seconds (see the module's docstring for the rules); returns a ``MidiRead`` (its
    ``piano_roll``, as the tutorial's ``midiread(f, r, dt).piano_roll``).

    A note outside ``r`` is an error (the tutorial's reader wrapped a note below ``r`` to the top
    of the roll and failed on one above), and so is a file with no complete note.
    """
    low, high = check_range(r)
    dt = check_dt(dt)
    mido = _mido("midiread")
    try:
        midi_file = mido.MidiFile(os.fspath(filename))
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError, LookupError,
            struct.error, RecursionError, UnicodeError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise MidiError(f"{filename}: not a readable MIDI file ({error})") from None
    division = midi_file.ticks_per_beat
    if not 0 < division < 0x8000:
        raise MidiError(f"{filename}: division {division:#06x} is SMPTE time (frames per "
                        "second), not ticks per beat; only ticks per beat are read")
    tracks = [list(_absolute_ticks(track)) for track in midi_file.tracks]
    seconds = _tempo_map(tracks, division)
    notes = []
    for track in tracks:
        for tick, message in track:
            if message.type == "note_on" and message.velocity > 0:
                notes.append([message.note, seconds(tick), None])
            elif message.type in ("note_on", "note_off"):
                _end_note(notes, message.note, seconds(tick))
    notes = [n for n in notes if n[2] is not None]  # notes never ended are dropped
    if not notes:
        raise MidiError(f"{filename}: no complete note (a note-on followed by its note-off)")
    for note, start, _ in notes:
        if not low <= note < high:
            raise MidiError(f"{filename}: note {note} at {start:g} s is outside r={r!r} (notes "
                            f"{low} to {high - 1}); widen r")
    end = max(n[2] for n in notes)
    frames = end / dt
    if not math.isfinite(frames) or frames * (high - low) * 8 > MAX_ROLL_BYTES:
        raise MidiError(f"{filename}: a note ends at {end:g} s, a piano roll of {frames:.3g} frames "
                        f"of {dt:g} s, over dltut's limit of {MAX_ROLL_BYTES // 2**20} MiB (a "
                        "damaged file? check its tempo and note-offs)")
    length = int(numpy.ceil(frames))
    piano_roll = numpy.zeros((length, high - low))
    for note, start, end in notes:
        piano_roll[int(numpy.ceil(start / dt)):int(numpy.ceil(end / dt)), note - low] = 1
    return MidiRead(notes, piano_roll)


def _absolute_ticks(track):
    """``(tick, message)`` of a track's messages, ticks counted from the track's start."""
    tick = 0
    for message in track:
        tick += message.time
        yield tick, message


def _tempo_map(tracks, division):
    """``seconds(tick)``: the time of a tick under the tempo changes of all ``tracks``."""
    changes = sorted(((tick, i, j, message.tempo) for i, track in enumerate(tracks)
                      for j, (tick, message) in enumerate(track) if message.type == "set_tempo"))
    # (tick, seconds, tempo) at the start of each tempo's span, as the tutorial accumulated them
    spans = [(0, 0.0, DEFAULT_TEMPO)]
    for tick, _, _, tempo in changes:
        beat, time, previous = spans[-1]
        spans.append((tick, time + previous * (tick - beat) * 1e-6 / division, tempo))
    starts = [beat for beat, _, _ in spans]

    def seconds(tick):
        beat, time, tempo = spans[numpy.searchsorted(starts, tick, side="right") - 1]
        return time + tempo * (tick - beat) * 1e-6 / division

    return seconds


def _end_note(notes, note, time):
    """End the most recent note of pitch ``note`` at ``time`` if it is still sounding."""
    for entry in reversed(notes):
        if entry[0] == note:
            if entry[2] is None:
                entry[2] = time
            return


def midiwrite(filename, piano_roll, r=PIANO, dt=0.2, patch=0):
    """Write ``piano_roll`` (frames x notes ``r``; nonzero is on) to the MIDI file ``filename``
    with frames of ``dt`` seconds and the General MIDI program ``patch`` (0: piano); see the
    module's docstring. The file is written whole or not at all."""
    low, high = check_range(r)
    dt = check_dt(dt)
    roll = numpy.asarray(piano_roll)
    if roll.ndim != 2 or roll.shape[1] != high - low:
        raise ValueError(f"piano_roll must be (frames, {high - low}) for r={r!r}, got shape "
                         f"{roll.shape}")
    ticks_per_frame = int(dt * 200)  # at 100 ticks a beat and 0.5 s a beat
    if ticks_per_frame < 1:
        raise ValueError(f"dt {dt!r} is shorter than a tick of the file midiwrite writes (0.005 "
                         "s); use dt >= 0.005")
    if isinstance(patch, bool) or not isinstance(patch, numbers.Integral) or not 0 <= patch < 128:
        raise ValueError(f"patch must be a General MIDI program number 0..127, got {patch!r}")
    events = [(0, bytes([0xC0, int(patch)]))]  # (delta ticks, message) of the one track
    samples = [set((frame.nonzero()[0] + low).tolist()) for frame in roll]
    t = 0  # ticks since the last event written
    for i, notes in enumerate(samples):
        for note in sorted(notes):
            if i == 0 or note not in samples[i - 1]:
                events.append((t, bytes([0x90, note, WRITE_VELOCITY])))
                t = 0
        t += ticks_per_frame
        for note in sorted(notes):
            if i == len(samples) - 1 or note not in samples[i + 1]:
                events.append((t, bytes([0x80, note, 0])))
                t = 0
    track, running = bytearray(), None
    for delta, message in events:  # running status: a repeated status byte is left out
        track += _variable_length(delta) + (message[1:] if message[0] == running else message)
        running = message[0]
    track += b"\x00\xff\x2f\x00"  # end of track
    header = struct.pack(">4sIHHH", b"MThd", 6, 0, 1, WRITE_TICKS_PER_BEAT)  # format 0, a track
    data = header + struct.pack(">4sI", b"MTrk", len(track)) + bytes(track)
    atomic_write(filename, lambda file: file.write(data))


def _variable_length(value):
    """A MIDI variable-length quantity: 7 bits a byte, the most significant first, each byte but
    the last with its top bit set."""
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(groups))
