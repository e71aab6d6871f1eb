"""One partner's timeline: interactions, updates, replies, documents and grant events."""
