"""Takeout: everything a funder (or a partner organisation) can read, in one zip.

The gateway reads it through the API with the caller's own token, so the takeout
holds every row the caller can list and nothing it cannot: each service applies its
own rules, exactly as for any other client. Which lists to read comes from the merged
OpenAPI document, so a new list is in the next takeout without a change here.
"""
