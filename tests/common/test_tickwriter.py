"""The log writer of every service (``services.common.logs.TickWriter``): lines logged on
an event loop go in one write per turn of the loop, in order, and none is lost."""

import asyncio
import io
import logging
import threading
from collections.abc import Iterator

import pytest

from services.common.logs import TickWriter


class CountingStream(io.StringIO):
    """A stream that counts the writes made to it (each a system call on stderr)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, CountingStream]]:
    stream = CountingStream()
    handler = TickWriter(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(f"tests.tickwriter.{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: CountingStream) -> list[str]:
    return stream.getvalue().splitlines()


async def test_lines_of_one_turn_go_in_one_write_in_order(
    logged: tuple[logging.Logger, CountingStream],
) -> None:
    logger, stream = logged
    for n in range(32):
        logger.info("request %d", n)
    assert stream.writes == 0  # still this turn of the loop
    await asyncio.sleep(0)
    assert lines(stream) == [f"INFO request {n}" for n in range(32)]
    assert stream.writes == 1
    logger.info("next turn")
    await asyncio.sleep(0)
    assert lines(stream)[-1] == "INFO next turn"
    assert stream.writes == 2


async def test_a_warning_is_written_at_once_after_the_lines_waiting(
    logged: tuple[logging.Logger, CountingStream],
) -> None:
    logger, stream = logged
    logger.info("first")
    logger.warning("trouble")
    assert lines(stream) == ["INFO first", "WARNING trouble"]
    await asyncio.sleep(0)
    assert stream.writes == 1  # nothing was left for the turn's write


def test_without_a_loop_each_line_is_written_at_once(
    logged: tuple[logging.Logger, CountingStream],
) -> None:
    logger, stream = logged
    logger.info("one")
    assert lines(stream) == ["INFO one"]
    logger.info("two")
    assert lines(stream) == ["INFO one", "INFO two"]


async def test_a_line_from_another_thread_keeps_the_order(
    logged: tuple[logging.Logger, CountingStream],
) -> None:
    logger, stream = logged
    logger.info("on the loop")
    worker = threading.Thread(target=logger.info, args=("from a thread",))
    worker.start()
    worker.join()
    assert lines(stream) == ["INFO on the loop", "INFO from a thread"]
    await asyncio.sleep(0)
    assert stream.writes == 1


def test_lines_of_a_loop_that_ended_are_not_lost(
    logged: tuple[logging.Logger, CountingStream],
) -> None:
    """A loop closed before its turn ended (a test's, a stopped server's): its lines go with
    the next line, or at flush (the interpreter's exit flushes every handler)."""
    logger, stream = logged
    loop = asyncio.new_event_loop()
    loop.call_soon(loop.stop)
    loop.call_soon(logger.info, "last words")  # in the loop's last turn
    loop.run_forever()
    loop.close()
    assert lines(stream) == []
    logger.handlers[0].flush()
    assert lines(stream) == ["INFO last words"]

    async def on_a_new_loop() -> None:
        logger.info("a new loop")
        await asyncio.sleep(0)

    asyncio.run(on_a_new_loop())
    assert lines(stream) == ["INFO last words", "INFO a new loop"]
