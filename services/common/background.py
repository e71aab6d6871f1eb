"""A background task of a service process: started in its lifespan, cancelled on shutdown."""

import asyncio


class BackgroundTask:
    """Runs ``run_forever()`` as an asyncio task between ``start()`` and ``stop()``."""

    task_name = "background"

    def start(self) -> None:
        self._task: asyncio.Task[None] | None = asyncio.create_task(
            self.run_forever(), name=self.task_name
        )

    async def stop(self) -> None:
        task = getattr(self, "_task", None)
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def run_forever(self) -> None:
        raise NotImplementedError
