"""Gatherings: an event with many partners (a learning day, a partner network meeting)."""
