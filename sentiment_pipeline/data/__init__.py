"""Loading, cleaning and encoding the reviews: where data comes from and what the models read."""
