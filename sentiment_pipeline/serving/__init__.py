"""The ways in for users: the CLI, the web demo, the MLflow model."""
