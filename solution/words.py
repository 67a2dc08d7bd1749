"""Reading a word as a whole: all letters or all digits (run_q4.read_text by default, and
q7_emnist.read_boxes(words=...), beyond the handout: docs/reading.md)."""
import numpy as np

DIGITS = frozenset("0123456789")


def word_labels(probs, words, classes):
    """Each box's character, every word read as all digits or all non-digits (letters).

    Inputs:  probs (N, C) class probabilities; words: lines of words of box indices (as
             run_q4.line_words gives them); classes: C characters, the label of each column.
    Returns: list of N characters: within each word, the likelier kind (the sum over its characters
             of the log of the best probability of that kind), then each box's best of that kind.
    """
    digit = np.array([c in DIGITS for c in classes])
    logs = np.log(np.maximum(probs, 1e-12))
    labels = [""] * len(probs)
    for word in (word for line in words for word in line):
        kind = digit if logs[word][:, digit].max(1).sum() > logs[word][:, ~digit].max(1).sum() else ~digit
        for i in word:
            labels[i] = classes[int(np.argmax(np.where(kind, probs[i], -1)))]
    return labels
