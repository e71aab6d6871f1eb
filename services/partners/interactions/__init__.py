"""Interactions: visits, calls, meetings and events between a funder and a partner."""
