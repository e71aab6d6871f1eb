"""Documents a partner already has: links to its annual report, accounts, strategy, policies."""
