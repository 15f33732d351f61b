"""Scoring a model on test: metrics, calibration, the report, error analysis, plots."""
