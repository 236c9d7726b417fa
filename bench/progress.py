"""A live progress bar (rich) for the bench: one bar per phase, fed from the workers' shared counters."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

console = Console(stderr=True)


class Bar:
    def __init__(self) -> None:
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=console,
                                  transient=False)
        self._task: TaskID | None = None

    def __enter__(self) -> Bar:
        self._progress.start()
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.done()
        self._progress.stop()

    def phase(self, description: str, total: float | None) -> None:
        self.done()
        self._task = self._progress.add_task(description, total=total, info="")

    def update(self, completed: float, info: str = "") -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=completed, info=info)

    def done(self) -> None:
        if self._task is not None:
            task = self._progress.tasks[-1]
            if task.total is not None and task.completed < task.total:
                self._progress.update(self._task, total=task.completed)
            self._progress.stop_task(self._task)
            self._task = None


def say(text: str) -> None:
    console.print(text)


def warn(text: str) -> None:
    console.print(f"[bold red]!! {text}[/bold red]")
