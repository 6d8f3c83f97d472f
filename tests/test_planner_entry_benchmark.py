"""The pure parts of benchmarks/planner_entry.py: counting root changes between scored beats."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark_module import load


@pytest.fixture(scope="module")
def entry():
    return load("planner_entry")


def label(root: int, family: int = 0) -> int:
    return root * 6 + family  # accomp.music.metrics.chord_labels


def test_root_changes_count_only_pairs_of_scored_beats_next_to_each_other(entry):
    labels = np.array([label(0), label(0, 1), label(7), -1, label(5), label(5), label(9), label(2)])
    scored = np.array([True, True, True, False, True, True, True, False])
    # pairs (0,1) C -> Cm: same root; (1,2) -> G: a change; (4,5) F -> F; (5,6) -> A: a change;
    # (2,3), (3,4) and (6,7) have a beat not scored
    assert entry.root_changes(labels, scored) == (2, 4)
    assert entry.root_changes(labels, np.zeros(8, bool)) == (0, 0)
    assert entry.root_changes(np.zeros(0, np.int64), np.zeros(0, bool)) == (0, 0)
