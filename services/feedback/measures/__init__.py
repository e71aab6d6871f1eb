"""Feedback: measures."""
