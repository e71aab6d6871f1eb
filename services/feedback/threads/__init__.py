"""Feedback: threads."""
