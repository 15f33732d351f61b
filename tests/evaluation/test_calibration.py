"""ECE / MCE against a case computed by hand."""

import numpy as np
import pytest

from sentiment_pipeline.evaluation.calibration import calibration_errors, reliability_table


def test_ece_mce_hand_computed():
    # P(pos) -> predicted class, confidence, correct?
    #  0.9  -> pos 0.9  label 1 right     bins of width 0.25 (4 bins):
    #  0.8  -> pos 0.8  label 0 wrong       (0.75, 1.0]: conf .9 .8 .95 -> mean .8833, acc 2/3
    #  0.05 -> neg 0.95 label 0 right       (0.5, 0.75]: conf .6 .7      -> mean .65,   acc 1/2
    #  0.4  -> neg 0.6  label 0 right
    #  0.7  -> pos 0.7  label 0 wrong
    labels = np.array([1, 0, 0, 0, 0])
    prob_pos = np.array([0.9, 0.8, 0.05, 0.4, 0.7])
    gap_high = abs(2 / 3 - (0.9 + 0.8 + 0.95) / 3)  # 0.2167
    gap_mid = abs(1 / 2 - (0.6 + 0.7) / 2)  # 0.15
    ece, mce = calibration_errors(labels, prob_pos, n_bins=4)
    assert ece == pytest.approx((3 * gap_high + 2 * gap_mid) / 5)  # 0.19
    assert mce == pytest.approx(gap_high)


def test_bins_are_right_closed_and_empty_bins_are_skipped():
    table = reliability_table(np.array([1, 1]), np.array([0.75, 1.0]), n_bins=4)
    assert table["count"].tolist() == [0, 0, 1, 1]  # 0.75 in (0.5, 0.75], 1.0 in (0.75, 1]
    assert np.isnan(table.loc[0, "accuracy"])
    ece, mce = calibration_errors(np.array([1, 1]), np.array([0.75, 1.0]), n_bins=4)
    assert ece == pytest.approx(0.125) and mce == pytest.approx(0.25)


def test_perfectly_calibrated_bin_has_zero_error():
    labels = np.array([1, 1, 1, 0])  # confidence 0.75 everywhere, 3 of 4 right
    ece, mce = calibration_errors(labels, np.full(4, 0.75), n_bins=15)
    assert ece == pytest.approx(0.0) and mce == pytest.approx(0.0)


def test_temperature_scaling_recovers_the_temperature_that_overconfidence_used():
    from sentiment_pipeline.evaluation.calibration import fit_temperature

    rng = np.random.default_rng(0)
    true_margins = rng.normal(0, 2, 20_000)
    labels = (rng.random(20_000) < 1 / (1 + np.exp(-true_margins))).astype(int)  # calibrated at T = 1
    assert fit_temperature(true_margins, labels) == pytest.approx(1.0, abs=0.05)
    assert fit_temperature(3 * true_margins, labels) == pytest.approx(3.0, rel=0.05)  # over-confident
    assert fit_temperature(true_margins / 2, labels) == pytest.approx(0.5, rel=0.05)  # under-confident


def test_temperature_scaling_never_changes_a_prediction_and_lowers_the_nll_it_was_fitted_on():
    from sklearn.metrics import log_loss

    from sentiment_pipeline.evaluation.calibration import fit_temperature, probabilities

    rng = np.random.default_rng(1)
    margins = rng.normal(0, 6, 5_000)
    margins[:10] = 0.0  # exactly on the boundary: P = 0.5, predicted positive either way
    labels = (rng.random(5_000) < 1 / (1 + np.exp(-margins / 4))).astype(int)
    temperature = fit_temperature(margins, labels)
    before, after = probabilities(margins), probabilities(margins, temperature)
    np.testing.assert_array_equal(before >= 0.5, after >= 0.5)  # the same class for every review
    assert log_loss(labels, after) < log_loss(labels, before)
    ece_before, _ = calibration_errors(labels, before)
    ece_after, _ = calibration_errors(labels, after)
    assert ece_after < ece_before / 2
