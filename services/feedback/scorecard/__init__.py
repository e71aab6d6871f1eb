"""Feedback: scorecard."""
