"""Search across the narrative a caller may read: updates, replies, interactions, documents."""
