"""Feedback: commitments."""
