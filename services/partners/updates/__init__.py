"""Reflective updates sent by partners when they choose, and the threads of replies to them."""
