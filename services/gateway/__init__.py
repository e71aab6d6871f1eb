"""The gateway: the one front door to the Trellis services (default port 8000).

- ``routing.py``: the table of which service owns which ``/api/v1/<resource>``
  (plus ``/oauth/*`` and ``/.well-known/*`` to partners). Add a resource there.
- ``proxy.py``: the hot path, pure ASGI. One ``aiohttp`` session with a keep-alive
  pool per upstream; ``TRELLIS_GATEWAY_CONNECT_TIMEOUT`` to connect and
  ``TRELLIS_UPSTREAM_TIMEOUT`` for the upstream to start answering (and between
  body chunks), else a 503 problem naming the service. Bodies stream both ways;
  hop-by-hop headers are dropped; ``X-Request-ID`` is accepted or made and sent on;
  ``Authorization`` is passed through after the gateway has verified it (401
  problem otherwise); requests without a token pass (each service decides what
  the public may see). A caller that abandons a streamed answer closes the
  upstream connection too.
- ``openapi.py``: one merged OpenAPI document from the services' own, cached;
  colliding component names are prefixed with the service name.
- ``app.py``: ``create_app(settings)``: the proxy, CORS for
  ``TRELLIS_GATEWAY_CORS_ORIGINS``, ``/healthz``, ``/readyz`` (every upstream's
  ``/readyz``), ``/openapi.json`` and ``/docs``.

``benchmarks/gateway.py`` measures it against nginx in front of the same service.
"""
