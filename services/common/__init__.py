"""The shared kit every Trellis service is built from.

Its public surface is the modules themselves: ``settings``, ``db``, ``errors``,
``auth``, ``lists``, ``idempotency``, ``concurrency``, ``audit``, ``outbox``,
``events``, ``http``, ``requestid``, ``logs``, ``health``, ``money`` and
``service_app``. Services import from these and never from each other.
"""
