"""Feedback: results."""
