"""conlleval: dltut's port against the perl script the tutorial ran (code/conlleval.pl of
lisa-lab/DeepLearningTutorials, version 2018-03-09), on made predictions with edge cases; and
against seqeval where it is installed.

``conlleval_perl.json`` (beside this file) holds what perl printed for each corpus below: made
by writing ``_text(corpus)`` of each case of ``RANDOM_CASES`` and each text of ``EDGE_CASES`` to
``perl conlleval.pl`` (perl 5.36, no options) and keeping its stdout. Where
``DLTUT_CONLLEVAL_PL`` names that script and perl is on the PATH, the test also runs perl
itself, on more corpora.
"""

import json
import os
import shutil
import subprocess

import numpy
import pytest

from dltut import conlleval

HERE = os.path.dirname(os.path.abspath(__file__))

TAGSETS = {
    # B/I/O tags with random errors: I- without B-, type changes inside a chunk, a dotted type
    "bio": ["O", "O", "O", "B-a", "I-a", "B-b", "I-b", "B-c.d", "I-c.d"],
    # IOBES: conlleval knows E- but not S-
    "iobes": ["O", "O", "B-a", "I-a", "E-a", "S-a", "B-b", "I-b", "E-b", "S-b"],
    # what perl treats specially: the type "0" (false), tags without type, hyphens in the type,
    # the one-word chunks [ and ], the tag "."
    "odd": ["O", "B-a", "I-a", "E-a", "B-0", "I-0", "B", "I", "X", "I-", "B-a-b", "I-a-b",
            "[", "]", ".", "[-a", "]-a"],
}
RANDOM_CASES = [(kind, seed) for kind in TAGSETS for seed in range(12)]
EDGE_CASES = {
    "i_without_b": "w I-a I-a\nw I-a I-a\nw O I-a\nw I-b I-a\n\n",
    "no_chunks": "w O O\nw O O\n\n",
    "none_guessed": "w B-a O\nw I-a O\n\n",
    "none_correct": "w O B-a\nw O I-a\n\n",
    "all_correct": "BOS O O\nw B-a B-a\nw I-a I-a\nw O O\nw B-b B-b\nEOS O O\n\n",
    "boundary_line": "w B-a B-a\n-X- B-a B-a\nw I-a I-a\n\n",
    "boundary_only_at_end": "w B-a B-a\nw I-a I-a",
    "type_change": "w B-a B-a\nw I-b I-a\nw I-b I-b\n",
    "spaces": "w  B-a B-a\nw  I-a B-a\n   \nw  B-a B-a\n",
    "two_fields": "B-a B-a\nI-a O\nO O\n",
    "empty_type_twice": "w B I\nw I B\nw B-a B\n",
}


def corpus(kind, seed):
    """A few sentences of random correct tags from ``TAGSETS[kind]``, each guessed right with
    probability 0.6 and otherwise drawn again: conlleval's input lines."""
    rng = numpy.random.RandomState(seed)
    tags = TAGSETS[kind]
    lines = []
    for _ in range(1 + rng.randint(6)):
        n = 1 + rng.randint(9)
        correct = [tags[i] for i in rng.randint(len(tags), size=n)]
        guessed = [c if rng.rand() < 0.6 else tags[rng.randint(len(tags))] for c in correct]
        lines += [f"w{i} {c} {g}" for i, (c, g) in enumerate(zip(correct, guessed))] + [""]
    return lines


def _text(lines):
    return "".join(line + "\n" for line in lines)


def _perl_outputs():
    with open(os.path.join(HERE, "conlleval_perl.json")) as f:
        return json.load(f)


def test_report_is_what_perl_printed_on_random_corpora():
    perl = _perl_outputs()
    for kind, seed in RANDOM_CASES:
        assert conlleval.evaluate_lines(corpus(kind, seed)).report() == perl[f"{kind}{seed}"], \
            (kind, seed)


def test_report_is_what_perl_printed_on_edge_cases():
    perl = _perl_outputs()
    for name, text in EDGE_CASES.items():
        assert conlleval.evaluate_text(text).report() == perl[name], name


def test_scores_by_hand():
    # correct: [a a] O [b]; guessed: [a] [a] O [b]: of the three guessed chunks only [b] is
    # right, one of the two in the corpus
    counts = conlleval.evaluate([["B-a", "I-a", "O", "B-b"]], [["B-a", "B-a", "O", "B-b"]])
    assert (counts.found_correct, counts.found_guessed, counts.correct_chunk) == (2, 3, 1)
    assert counts.precision == 100 / 3 and counts.recall == 50.0
    assert counts.fb1 == 2 * (100 / 3) * 50.0 / (100 / 3 + 50.0)
    assert counts.rounded() == {"p": 33.33, "r": 50.0, "f1": 40.0}
    assert counts.accuracy == 75.0
    # an I- with no B- before it starts a chunk (IOB1), as in conlleval
    counts = conlleval.evaluate([["O", "I-a", "I-a"]], [["O", "B-a", "I-a"]])
    assert (counts.found_correct, counts.found_guessed, counts.correct_chunk) == (1, 1, 1)
    # nothing guessed: precision, recall and F1 are 0, not NaN
    assert conlleval.evaluate([["B-a"]], [["O"]]).rounded() == {"p": 0.0, "r": 0.0, "f1": 0.0}


def test_tags_split_as_perl_does():
    assert conlleval.split_tag("B-toloc.city_name") == ("B", "toloc.city_name")
    assert conlleval.split_tag("I-a-b") == ("I", "a-b")
    assert conlleval.split_tag("O") == ("O", "")
    assert conlleval.split_tag("B-0") == ("B", "")  # "0" is false in perl
    assert conlleval.split_tag("B-") == ("B", "")


def test_bad_input_is_refused():
    with pytest.raises(conlleval.ConllError, match="line 2 'w B-a': unexpected number of "
                                                   "features: 2 \\(3\\)"):
        conlleval.evaluate_text("w B-a B-a\nw B-a\n")
    with pytest.raises(conlleval.ConllError, match="line 1 'B-a'"):
        conlleval.evaluate_text("B-a\n")
    with pytest.raises(ValueError, match="2 correct sentences but 1 guessed"):
        conlleval.evaluate([["O"], ["O"]], [["O"]])
    with pytest.raises(ValueError, match="sentence 0: 2 correct tags but 1 guessed"):
        conlleval.evaluate([["O", "O"]], [["O"]])
    with pytest.raises(ValueError, match="tag 'B a' is empty or has a space"):
        conlleval.evaluate([["B a"]], [["O"]])


def _conlleval_pl():
    script = os.environ.get("DLTUT_CONLLEVAL_PL")
    if not script or not os.path.isfile(script) or shutil.which("perl") is None:
        pytest.skip("set DLTUT_CONLLEVAL_PL to the tutorials' code/conlleval.pl (needs perl)")
    return script


def test_report_is_what_perl_prints_now():
    script = _conlleval_pl()
    cases = [corpus(kind, seed) for kind in TAGSETS for seed in range(100, 160)]
    cases += [text.split("\n") for text in EDGE_CASES.values()]
    for lines in cases:
        text = _text(lines)
        perl = subprocess.run(["perl", script], input=text.encode(), capture_output=True,
                              check=True).stdout.decode()
        assert conlleval.evaluate_text(text).report() == perl, text


def test_seqeval_counts_the_same_chunks_on_bio_tags():
    """seqeval (default mode) finds the chunks conlleval finds on B/I/O tags, I- without B-
    included; on IOBES tags it does not (``S-a S-a`` is one chunk for conlleval, two for it)."""
    entities = pytest.importorskip("seqeval.metrics.sequence_labeling").get_entities

    def split(lines):
        sentences = [s for s in _text(lines).split("\n\n") if s]
        tags = [[line.split(" ")[1:] for line in s.split("\n")] for s in sentences]
        return [[c for c, g in s] for s in tags], [[g for c, g in s] for s in tags]

    for seed in range(50):
        lines = corpus("bio", seed)
        counts = conlleval.evaluate_lines(lines)
        correct, guessed = (set(entities(tags)) for tags in split(lines))
        assert (counts.found_correct, counts.found_guessed, counts.correct_chunk) == \
            (len(correct), len(guessed), len(correct & guessed))
    assert conlleval.evaluate([["S-a", "S-a"]], [["O", "O"]]).found_correct == 1
    assert len(entities(["S-a", "S-a"])) == 2
