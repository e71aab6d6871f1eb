"""Partners ask: a partner's request for a change to its grant, and the funder's answer."""
