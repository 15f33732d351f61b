"""Using a trained model: one prediction core, the analyzer, int8."""
