"""Feedback: actions."""
