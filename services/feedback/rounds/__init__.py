"""Feedback: rounds."""
