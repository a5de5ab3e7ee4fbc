"""Label-noise generators: exact realised rates, mask == (noisy != clean), the confusions they claim, seeding."""

from __future__ import annotations

import numpy as np
import pytest

from finecl_hf.data.label_noise import (
    CONFUSABLE_MIXTURE,
    confusable_label_noise,
    reversed_direction_label,
    uniform_label_noise,
)
from finecl_hf.data.schema import semeval_label_names

NAMES = semeval_label_names()


def semeval_like_labels(num_rows: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, len(NAMES), size=num_rows)


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.3, 0.4, 1.0])
@pytest.mark.parametrize("num_rows", [1, 7, 4000])
def test_uniform_noise_rate_and_mask(rate, num_rows):
    clean = semeval_like_labels(num_rows)
    noisy = uniform_label_noise(clean, len(NAMES), rate, seed=3)
    assert noisy.corrupted.sum() == round(rate * num_rows)
    np.testing.assert_array_equal(noisy.corrupted, noisy.labels != clean)
    assert set(noisy.kind[noisy.corrupted]) <= {"uniform"} and set(noisy.kind[~noisy.corrupted]) <= {""}
    assert noisy.labels.min() >= 0 and noisy.labels.max() < len(NAMES)


def test_uniform_noise_targets_are_uniform_over_other_labels():
    clean = np.zeros(19_000, dtype=np.int64)
    noisy = uniform_label_noise(clean, 20, 1.0, seed=0)
    counts = np.bincount(noisy.labels, minlength=20)
    assert counts[0] == 0
    # 1,000 expected per other label: a chi-square-free check that no label is favoured by more than 5 sigma.
    assert np.all(np.abs(counts[1:] - 1000) < 5 * np.sqrt(1000))


def test_noise_is_seeded():
    clean = semeval_like_labels(500)
    a, b = confusable_label_noise(clean, NAMES, 0.4, seed=1), confusable_label_noise(clean, NAMES, 0.4, seed=1)
    np.testing.assert_array_equal(a.labels, b.labels)
    c = confusable_label_noise(clean, NAMES, 0.4, seed=2)
    assert not np.array_equal(a.labels, c.labels)
    np.testing.assert_array_equal(uniform_label_noise(clean, 19, 0.3, 5).labels, uniform_label_noise(clean, 19, 0.3, 5).labels)


def test_reversed_direction_label():
    assert reversed_direction_label("Cause-Effect(e1,e2)") == "Cause-Effect(e2,e1)"
    assert reversed_direction_label("Cause-Effect(e2,e1)") == "Cause-Effect(e1,e2)"
    assert reversed_direction_label("Other") is None


@pytest.mark.parametrize("rate", [0.0, 0.25, 0.4])
def test_confusable_noise_rate_mask_and_confusions(rate):
    clean = semeval_like_labels(4000, seed=7)
    noisy = confusable_label_noise(clean, NAMES, rate, seed=11)
    assert noisy.corrupted.sum() == round(rate * clean.size)
    np.testing.assert_array_equal(noisy.corrupted, noisy.labels != clean)
    for row in np.flatnonzero(noisy.corrupted):
        before, after, kind = NAMES[clean[row]], NAMES[noisy.labels[row]], noisy.kind[row]
        if kind == "direction_swap":
            assert after == reversed_direction_label(before)
        elif kind == "to_no_relation":
            assert after == "Other" and before != "Other"
        else:
            assert kind == "random" and after != before
    assert (noisy.kind[~noisy.corrupted] == "").all()


def test_confusable_mixture_is_realised():
    clean = semeval_like_labels(20_000, seed=1)
    clean[clean == 0] = 1  # no `Other` rows: every confusion applies, so the mix matches the nominal shares
    noisy = confusable_label_noise(clean, NAMES, 0.5, seed=2)
    counts = noisy.kind_counts()
    total = sum(counts.values())
    for kind, share in CONFUSABLE_MIXTURE.items():
        assert abs(counts[kind] / total - share) < 0.02, (kind, counts)


def test_confusable_other_rows_fall_back_to_random():
    clean = np.zeros(300, dtype=np.int64)  # all `Other`
    noisy = confusable_label_noise(clean, NAMES, 1.0, seed=0)
    assert noisy.corrupted.all() and set(noisy.kind) == {"random"}


def test_custom_mixture_and_bad_input():
    clean = semeval_like_labels(1000)
    clean[clean == 0] = 1
    swaps = confusable_label_noise(clean, NAMES, 0.3, seed=0, mixture={"direction_swap": 1.0})
    assert swaps.kind_counts() == {"direction_swap": 300}
    with pytest.raises(ValueError, match="rate=1.5"):
        uniform_label_noise(clean, 19, 1.5, seed=0)
    with pytest.raises(ValueError, match="label id 19"):
        uniform_label_noise(np.array([0, 19]), 19, 0.5, seed=0)
    with pytest.raises(ValueError, match="no_relation_label='NA'"):
        confusable_label_noise(clean, NAMES, 0.3, seed=0, no_relation_label="NA")
    with pytest.raises(ValueError, match="mixture"):
        confusable_label_noise(clean, NAMES, 0.3, seed=0, mixture={"typo": 1.0})
    with pytest.raises(ValueError, match="integer label ids"):
        uniform_label_noise(np.array([0.5, 1.0]), 19, 0.3, seed=0)
