"""Keep a limits test inside one fixed window of the sliding-window counter.

``limits``' sliding window counter weighs the previous fixed window by how much
of it still overlaps; right after a window edge the weighted count can round
down by one, letting one more request through (an approximation the library
documents). A test that counts exactly starts where it has ``needed`` seconds
left before the next edge.
"""

import asyncio
import time


def seconds_to_edge(window: int = 60) -> float:
    return window - (time.time() % window)


def wait_time(needed: float, window: int = 60) -> float:
    left = seconds_to_edge(window)
    return 0.0 if left > needed else left + 0.2


async def start_inside_a_window(needed: float, window: int = 60) -> None:
    await asyncio.sleep(wait_time(needed, window))


def start_inside_a_window_sync(needed: float, window: int = 60) -> None:
    time.sleep(wait_time(needed, window))
