"""dltut's own measured runs of the tutorials' default settings, beside the published figures.

``dltut.catalogue`` holds what the original published and what its code prints; this file holds
what dltut's full default runs gave: each entry's ``command`` gave it, its ``source`` says where
(the settings, the machine). docs/_ext/dltut_pages.py puts both in the tutorials' results tables.
A figure here is copied from a run's own output, never computed; add one when a run is measured
(``dltut suite --full`` prints them), with its command and source.
"""

MEASURED = {
    "logreg": dict(
        validation=7.500000, test=7.489583, epochs="74 (stopped by patience)",
        time="8.3 s training, 14.0 s the whole command cold (float32, JAX mode)",
        command="python scripts/logreg.py",
        source="float32, JAX mode (float64 prints the same lines), 2-core AMD EPYC; "
               "benchmarks/bench_cpu.py for the times"),
    "logistic_cg": dict(
        validation=7.312500, test=7.416667, epochs="50 iterations (n_epochs)",
        time=None,
        command="python scripts/logistic_cg.py",
        source="C mode, float64: all 50 validation lines equal the original's on theano-pymc"),
    "SdA": dict(
        validation=1.36, test=1.49, epochs="36 epochs of fine-tuning (stopped by patience)",
        time="51.8 minutes wall: pretraining 25.4, fine-tuning 26.0 (float32, JAX mode)",
        command="python benchmarks/bench_stacked.py --tutorial SdA --whole",
        source="one run on a quiet 2-core machine; a run differing only in rounding gave "
               "1.43 % / 1.40 %"),
    "DBN": dict(
        validation=1.30, test=1.40, epochs="84 epochs of fine-tuning (stopped by patience)",
        time="120 minutes wall: pretraining 57.5, fine-tuning 62 (float32, JAX mode)",
        command="python benchmarks/bench_stacked.py --tutorial DBN --whole",
        source="one run, 2 cores"),
    "rbm": dict(
        validation=None, test=None, epochs="15 epochs of PCD-15; last epoch's cost -62.72 "
        "(published -62.76)",
        time="13.4 minutes training, 13.8 wall with sampling (float32, JAX mode)",
        command="python scripts/rbm.py --floatX float32",
        source="one run on a quiet 2-core machine"),
}
