"""Feedback: responses."""
