"""Read many hostile files with dltut's readers in one process; one JSON line of outcome a file.

Run by tests/test_fuzz.py under a memory cap: ``python fuzz_worker.py KIND:PATH [KIND:PATH ...]``.
An outcome is ``ok``, ``refused`` (the error the command line turns into one line and exit 2:
a ValueError or OSError whose text is one line naming the file) or ``fault`` (anything else:
another exception type, a message of several lines or without the file's name, MemoryError).
A signal kills the whole process, which the test sees as such.
"""

import json
import os
import sys
import traceback


def _mnist(path):
    from dltut import data

    data.load_data(path)


def _imdb(path):
    from dltut.tutorials import imdb

    imdb.load_data(path, n_words=50)


def _atis(path):
    from dltut.tutorials import rnnslu

    rnnslu.load_fold(path)


def _midi(path):
    from dltut import midi

    midi.midiread(path)


def _model(path):
    from dltut import saving
    from dltut.engine import T

    saving.load_model(path).build(T.matrix("x"))


def _checkpoint(path):
    import numpy

    from dltut import fitting, registry
    from dltut.engine import T

    arch = {"model": "mlp", "n_in": 784, "n_hidden": 5, "n_out": 10}  # test_fuzz's seed's run
    model = registry.build(arch, numpy.random.RandomState(0), T.matrix("x"))
    fitting._resume(path, arch, {"learning_rate": 0.1}, model)


def _suite_results(path):
    from dltut import engine, suite

    suite._finished(path, {"kind": "quick", "engine": engine.name(), "mode": None,
                           "floatX": None})


def _bmp(path):
    from dltut import imagefiles

    imagefiles.read_bmp(path)


def _tiff(path):
    from dltut import imagefiles

    imagefiles.read_tiff(path)


def _rays(path):
    from dltut.tutorials import cortical_layers

    cortical_layers.read_rays(path, float)


def _ray_labels(path):
    from dltut.tutorials import cortical_layers

    cortical_layers.read_rays(path, int)


READERS = {"suite-results": _suite_results, "mnist": _mnist, "imdb": _imdb, "atis": _atis, "midi": _midi, "model": _model,
           "checkpoint": _checkpoint, "bmp": _bmp, "tiff": _tiff, "rays": _rays,
           "ray-labels": _ray_labels}


def outcome(read, path):
    try:
        read(path)
    except (ValueError, OSError) as error:
        text = str(error)
        named = os.path.basename(path.rstrip("/")) in text
        if "\n" in text or not named:
            return {"outcome": "fault", "why": "not one line naming the file",
                    "type": type(error).__name__, "message": text}
        return {"outcome": "refused", "type": type(error).__name__, "message": text}
    except BaseException as error:  # noqa: BLE001 - every other kind is what this looks for
        return {"outcome": "fault", "type": type(error).__name__, "message": str(error)[:500],
                "traceback": traceback.format_exc()[-3000:]}
    return {"outcome": "ok"}


def main(items):
    for item in items:
        kind, path = item.split(":", 1)
        print(json.dumps({"path": path, **outcome(READERS[kind], path)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
