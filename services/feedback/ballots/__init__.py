"""Feedback: anonymous ballots (RFC 9474 blind signatures)."""
