"""Adversarial tests: edge cases and malformed input, compared with PyTorch."""
