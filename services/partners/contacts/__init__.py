"""People at a partner organisation, managed by the partner, erasable on request."""
