"""Metrics for generated samples."""
