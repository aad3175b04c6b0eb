"""Training and evaluation harness shared by every model."""
