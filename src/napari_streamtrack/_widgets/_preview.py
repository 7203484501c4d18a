"""Debounced, latest-wins background jobs for live previews."""
from __future__ import annotations

from collections.abc import Callable

from qtpy.QtCore import QTimer
from superqt.utils import create_worker


class LatestJob:
    """Run ``make_job()()`` off the GUI thread; deliver only the latest result.

    Every :meth:`request` restarts a short timer (typing in a spin box or
    dragging the frame slider asks many times; only the last one counts).
    When it fires, ``make_job`` is called on the GUI thread to snapshot the
    parameters and returns a function (or None: nothing to do) that runs in
    a worker thread. One job runs at a time: a request arriving meanwhile is
    started when the running job ends, and the running job's result, now
    stale, is dropped. So a slow frame never piles up threads and the GUI
    never waits.

    Parameters
    ----------
    make_job : callable
        ``make_job() -> callable | None``, called on the GUI thread.
    on_result, on_error : callable
        Called on the GUI thread with the latest job's return value or
        exception.
    delay_ms : int, optional
        Debounce delay. Default 100.

    Attributes
    ----------
    worker : superqt worker or None
        The running (or last) worker; tests wait on its signals.
    """

    def __init__(self, make_job: Callable, on_result: Callable, on_error: Callable,
                 delay_ms: int = 100):
        self._make_job = make_job
        self._on_result = on_result
        self._on_error = on_error
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._start)
        self._generation = 0  # bumped by each request; a result must match it
        self._busy = False
        self._pending = False
        self.worker = None

    @property
    def busy(self) -> bool:
        """A job is running or waiting for the timer."""
        return self._busy or self._pending or self._timer.isActive()

    def request(self, now: bool = False) -> None:
        """Ask for a new job, after the debounce delay (or at once if ``now``)."""
        self._generation += 1
        if now:
            self._timer.stop()
            self._start()
        else:
            self._timer.start()

    def cancel(self) -> None:
        """Forget pending requests; a running job's result will be dropped."""
        self._generation += 1
        self._timer.stop()
        self._pending = False

    def _start(self) -> None:
        if self._busy:
            self._pending = True
            return
        job = self._make_job()
        if job is None:
            return
        generation = self._generation
        self._busy = True
        # superqt's worker, not napari's: a preview is no task for the activity
        # dock, and its errors go to the status label, not the error dialog
        worker = create_worker(job, _start_thread=False, _ignore_errors=True)
        worker.returned.connect(lambda result: self._deliver(generation, result))
        worker.errored.connect(lambda exc: self._fail(generation, exc))
        worker.finished.connect(self._finished)
        self.worker = worker
        worker.start()

    def _deliver(self, generation: int, result) -> None:
        if generation == self._generation:
            self._on_result(result)

    def _fail(self, generation: int, exc: Exception) -> None:
        if generation == self._generation:
            self._on_error(exc)

    def _finished(self) -> None:
        self._busy = False
        if self._pending:
            self._pending = False
            self._start()
