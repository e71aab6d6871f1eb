"""Composite views: the gateway's own endpoints, each one screen's worth of the API.

A view is a set of *sections*, each filled by calls to the services made with the
caller's own token, concurrently. So a view never shows more than its parts: every
service applies its own rules to the caller, and the gateway only puts the answers
side by side (and adds them up). A section whose service is down, slow or failing
says so (``"status": "unavailable"`` with the service and why) and the rest of the
view still answers.

Adding a view (the pattern):

1. Write the builder in a module of its own (see ``partner.py``, ``funder.py``): an
   ``async def`` that takes a ``Calls`` (``compose.py``) and returns a dict of
   sections, each made with ``section(...)`` around a coroutine that uses
   ``calls.get`` / ``calls.get_all`` against the services' public API paths.
2. Describe its answer with pydantic models in ``schemas.py`` (they become the
   OpenAPI text), and add the route in ``routes.py``.
3. Tell ``routing.VIEW_PATHS`` about its path so the hot path hands it to the
   gateway's own app instead of proxying it.
4. Test it against the calls it combines (``tests/gateway/test_views.py``): the
   same caller making the same calls directly must see the same figures.
"""
