"""The segmentation chapter's shipped made data is what benchmarks/segm_original.py writes, and
the data the original code's numbers in tests/segm_original.json were recorded on.

The driver makes the files with NumPy's legacy RandomState and Pillow only, so they are written
again here, byte for byte, in a temporary folder.
"""

import hashlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOY = os.path.join(ROOT, "dltut", "toy")
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import segm_original  # noqa: E402


def test_shipped_made_data_is_what_the_driver_writes(tmp_path):
    segm_original.write_all(str(tmp_path))
    written = segm_original.file_digests(str(tmp_path))
    assert written == segm_original.file_digests(TOY)
    assert len(written) == 4 + 2 * (5 + 3 + 3) + 3


def test_the_original_numbers_were_recorded_on_the_shipped_data():
    with open(os.path.join(ROOT, "tests", "segm_original.json")) as f:
        recorded = json.load(f)
    assert recorded["made_data_sha256"] == segm_original.file_digests(TOY)
    for name, digest in recorded["made_data_sha256"].items():
        with open(os.path.join(TOY, name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest
