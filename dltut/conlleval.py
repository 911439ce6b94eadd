"""conlleval: the chunk-based precision, recall and F1 of CoNLL-2000's ``conlleval.pl``, in Python.

The slot-filling tutorial (rnnslu.py) scores its predictions with the CoNLL shared tasks' perl
script, ``conlleval.pl`` (the version of 2018-03-09 kept in the tutorials' repository). This
module is a line-by-line port of what that script counts and prints, so no perl is needed:

* The input is the script's: one token a line, fields separated by one space, the last two fields
  the correct tag and the guessed tag; an empty line (or a first field ``-X-``) ends a sentence.
* A tag is ``prefix-type`` split at its first hyphen (``B-toloc.city_name``: prefix ``B``, type
  ``toloc.city_name``); a tag without a hyphen is all prefix, of type ``""``. Prefixes ``B``,
  ``I``, ``E``, ``O``, ``[`` and ``]`` are known (IOB1, IOB2, IOE; ``S-`` is not: see below).
* A chunk starts at a ``B``, at an ``I`` or ``E`` after an ``O``, after an ``E`` (``E E``,
  ``E I``), and wherever the type changes; so an ``I-`` tag with no ``B-`` before it starts a
  chunk, as in the CoNLL-2000 data (IOB1).
* A guessed chunk is correct when it starts and ends where a correct chunk does, with its type.
* precision = 100 * correct chunks / guessed chunks, recall = 100 * correct chunks / correct
  chunks in the corpus (0 when there are none), FB1 = 2 * precision * recall / (precision +
  recall), computed in that order, as the script computes them in doubles.

Kept from perl as they are, because they change the numbers: a type spelled ``0`` is read as no
type (``0`` is false in perl), and a sentence boundary (an empty line, or a first field ``-X-``)
is ``O`` in both columns, whatever tags its line carries.
Not ported: the options ``-l`` (LaTeX), ``-r`` (raw tags), ``-d`` and ``-o``.

How this compares with seqeval (``seqeval.metrics`` in its default, conlleval-like mode) is in
docs/rnnslu.md: the same chunks on B/I/O tags, I- without B- included; other ones on IOBES tags
(conlleval knows no ``S-``: ``S-X S-X`` is one chunk here, two in seqeval) and on the brackets
``[`` and ``]``. This module follows conlleval.pl, which the tutorial ran.
"""

import dataclasses

BOUNDARY = "-X-"  # a first field that ends a sentence, as an empty line does
OUTSIDE = "O"


class ConllError(ValueError):
    """Input that conlleval.pl refuses (a line with another number of fields than the first)."""


def split_tag(tag):
    """``(prefix, type)`` of a tag, split at its first hyphen as conlleval.pl does.

    >>> split_tag("B-toloc.city_name")
    ('B', 'toloc.city_name')
    >>> split_tag("O")
    ('O', '')
    """
    prefix, hyphen, chunk_type = tag.partition("-")
    if not hyphen:
        return tag, ""
    # perl: `$type = $type ? $type : ""`; the string "0" is false in perl
    return prefix, "" if chunk_type == "0" else chunk_type


def end_of_chunk(prev_tag, tag, prev_type, chunk_type):
    """Whether a chunk ended between the previous word and this one (conlleval's endOfChunk)."""
    if (prev_tag, tag) in {("B", "B"), ("B", "O"), ("I", "B"), ("I", "O"),
                           ("E", "E"), ("E", "I"), ("E", "O")}:
        return True
    if prev_tag not in ("O", ".") and prev_type != chunk_type:
        return True
    return prev_tag in ("]", "[")  # these chunks are one word long


def start_of_chunk(prev_tag, tag, prev_type, chunk_type):
    """Whether a chunk started between the previous word and this one (conlleval's startOfChunk)."""
    if (prev_tag, tag) in {("B", "B"), ("I", "B"), ("O", "B"), ("O", "I"),
                           ("E", "E"), ("E", "I"), ("O", "E")}:
        return True
    if tag not in ("O", ".") and prev_type != chunk_type:
        return True
    return tag in ("[", "]")


def _percent(part, whole):
    # as perl computes it: an integer product, then one double division
    return 100 * part / whole if whole > 0 else 0.0


def _fb1(precision, recall):
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


@dataclasses.dataclass
class Counts:
    """What conlleval.pl counts over a corpus, and the scores it computes from the counts."""

    correct_chunk: int = 0  # guessed chunks that are correct
    found_correct: int = 0  # chunks in the corpus (the correct tags)
    found_guessed: int = 0  # chunks guessed
    correct_tags: int = 0  # tokens whose guessed tag is the correct one
    token_counter: int = 0  # tokens, sentence boundaries left out
    # per chunk type: [correct chunks, chunks in the corpus, chunks guessed]
    by_type: dict = dataclasses.field(default_factory=dict)

    @property
    def precision(self):
        """100 * correct chunks / guessed chunks (0.0 when none is guessed)."""
        return _percent(self.correct_chunk, self.found_guessed)

    @property
    def recall(self):
        """100 * correct chunks / chunks in the corpus (0.0 when there are none)."""
        return _percent(self.correct_chunk, self.found_correct)

    @property
    def fb1(self):
        """The F1 score: 2 * precision * recall / (precision + recall), 0.0 when both are 0."""
        return _fb1(self.precision, self.recall)

    @property
    def accuracy(self):
        """100 * tokens tagged correctly / tokens."""
        return _percent(self.correct_tags, self.token_counter)

    def rounded(self):
        """``{'p': precision, 'r': recall, 'f1': FB1}`` as conlleval.pl prints them (two
        decimals) and the tutorial read them back from its output: the numbers it compared."""
        return {"p": float(f"{self.precision:.2f}"), "r": float(f"{self.recall:.2f}"),
                "f1": float(f"{self.fb1:.2f}")}

    def report(self):
        """The text conlleval.pl prints for these counts, byte for byte."""
        lines = [f"processed {self.token_counter} tokens with {self.found_correct} phrases; "
                 f"found: {self.found_guessed} phrases; correct: {self.correct_chunk}."]
        if self.token_counter > 0:
            lines.append(f"accuracy: {self.accuracy:6.2f}%; "
                         f"{self.correct_chunk} {self.found_correct} {self.found_guessed} "
                         f"precision: {self.precision:6.2f}%; recall: {self.recall:6.2f}%; "
                         f"FB1: {self.fb1:6.2f}")
        for chunk_type in self._sorted_types():
            correct, found_correct, found_guessed = self.by_type[chunk_type]
            precision = _percent(correct, found_guessed)
            recall = _percent(correct, found_correct)
            lines.append(f"{chunk_type:>17s}: {correct: 4d} {found_correct: 4d} "
                         f"{found_guessed: 4d} precision: {precision:6.2f}%; "
                         f"recall: {recall:6.2f}%; FB1: {_fb1(precision, recall):6.2f}  "
                         f"{found_guessed}")
        return "\n".join(lines) + "\n"

    def _sorted_types(self):
        # perl sorts the keys of %foundCorrect and %foundGuessed together and drops a key equal
        # to the one before it, unless that one was false (""): the type "" can come twice
        keys = sorted([t for t, c in self.by_type.items() if c[1]]
                      + [t for t, c in self.by_type.items() if c[2]])
        types, last = [], None
        for key in keys:
            if not last or last != key:
                types.append(key)
            last = key
        return types

    def _count(self, chunk_type, column):
        self.by_type.setdefault(chunk_type, [0, 0, 0])[column] += 1


def _fields(line):
    # perl's split(/ /, $line): every single space separates, trailing empty fields are dropped
    fields = line.split(" ")
    while fields and fields[-1] == "":
        fields.pop()
    return fields


def evaluate_lines(lines):
    """``Counts`` of conlleval.pl's input, given as its lines (without their newlines).

    A line with another number of fields than the first non-empty line raises ``ConllError``, as
    the script stops with an error there.
    """
    counts = Counts()
    n_features = -1
    in_correct = False
    last_correct, last_guessed = OUTSIDE, OUTSIDE
    last_correct_type, last_guessed_type = "", ""
    for number, line in enumerate(lines, 1):
        features = _fields(line)
        if n_features < 0:
            n_features = len(features) - 1
        elif n_features != len(features) - 1 and features:
            raise ConllError(f"line {number} {line!r}: unexpected number of features: "
                             f"{len(features)} ({n_features + 1}); give every token line the "
                             f"same fields, the correct and the guessed tag last")
        if not features or features[0] == BOUNDARY:
            features = [BOUNDARY, OUTSIDE, OUTSIDE]
        if len(features) < 2:
            raise ConllError(f"line {number} {line!r}: unexpected number of features; a token "
                             f"line needs at least the correct and the guessed tag")
        guessed, guessed_type = split_tag(features[-1])
        correct, correct_type = split_tag(features[-2])
        first_item = features[0] if len(features) > 2 else None  # perl: shift of what is left
        if first_item == BOUNDARY:
            guessed = OUTSIDE  # sentence breaks are always out of chunk

        if in_correct:
            correct_ends = end_of_chunk(last_correct, correct, last_correct_type, correct_type)
            guessed_ends = end_of_chunk(last_guessed, guessed, last_guessed_type, guessed_type)
            if correct_ends and guessed_ends and last_guessed_type == last_correct_type:
                in_correct = False
                counts.correct_chunk += 1
                counts._count(last_correct_type, 0)
            elif correct_ends != guessed_ends or guessed_type != correct_type:
                in_correct = False

        correct_starts = start_of_chunk(last_correct, correct, last_correct_type, correct_type)
        guessed_starts = start_of_chunk(last_guessed, guessed, last_guessed_type, guessed_type)
        if correct_starts and guessed_starts and guessed_type == correct_type:
            in_correct = True
        if correct_starts:
            counts.found_correct += 1
            counts._count(correct_type, 1)
        if guessed_starts:
            counts.found_guessed += 1
            counts._count(guessed_type, 2)
        if first_item != BOUNDARY:
            if correct == guessed and guessed_type == correct_type:
                counts.correct_tags += 1
            counts.token_counter += 1

        last_guessed, last_correct = guessed, correct
        last_guessed_type, last_correct_type = guessed_type, correct_type
    if in_correct:
        counts.correct_chunk += 1
        counts._count(last_correct_type, 0)
    return counts


def evaluate_text(text):
    """``Counts`` of conlleval.pl's input given as one string (lines ended by newlines)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    return evaluate_lines(lines)


def evaluate(correct, guessed):
    """``Counts`` of sequences of tags: ``correct[i]`` and ``guessed[i]`` are the tags of
    sentence i, of the same length; sentences are separated as by empty lines.
    """
    if len(correct) != len(guessed):
        raise ValueError(f"{len(correct)} correct sentences but {len(guessed)} guessed ones: "
                         f"give one guessed tag sequence per sentence")
    lines = []
    for number, (correct_tags, guessed_tags) in enumerate(zip(correct, guessed)):
        correct_tags, guessed_tags = list(correct_tags), list(guessed_tags)
        if len(correct_tags) != len(guessed_tags):
            raise ValueError(f"sentence {number}: {len(correct_tags)} correct tags but "
                             f"{len(guessed_tags)} guessed ones: give one tag per word")
        for correct_tag, guessed_tag in zip(correct_tags, guessed_tags):
            for tag in (correct_tag, guessed_tag):
                if not tag or " " in tag:
                    raise ValueError(f"sentence {number}: tag {tag!r} is empty or has a space; "
                                     f"tags are single words such as 'B-toloc.city_name'")
            lines.append(f"w {correct_tag} {guessed_tag}")
        lines.append("")
    return evaluate_lines(lines)
