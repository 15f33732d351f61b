"""Each pipeline stage's work as a function: params and paths in, what it wrote out (stages/*.py call them)."""
