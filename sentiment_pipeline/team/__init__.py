"""Team mode: the local stack of real servers (PostgreSQL, S3, MLflow) and the champion gate."""
