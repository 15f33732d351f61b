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
