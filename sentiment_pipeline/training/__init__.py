"""Training: the loss, the Trainer and its callbacks, checkpoints, precision, DDP, the search."""
