"""The gateway: the one front door to the Trellis services."""
