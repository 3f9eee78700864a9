"""Which failures of an I/O task deserve another attempt: those that can succeed later.

A missing folder, a file that is not a table or a breached contract fails the same way on
every attempt; retrying them only delays the message and triples it in the logs. A dropped
connection, a timeout or a store another run holds locked may well pass a few seconds on.
"""

from typing import Any

from flows.store import StoreBusy

# OSErrors that say something about the path itself, not about the moment.
DETERMINISTIC_OS_ERRORS: tuple[type[OSError], ...] = (
    FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError,
)


def is_transient(exc: BaseException) -> bool:
    """True for errors that a later attempt may not meet again."""
    if isinstance(exc, StoreBusy):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, DETERMINISTIC_OS_ERRORS)


def exception_of(state: Any) -> BaseException | None:
    """The exception a failed Prefect state carries (None when it carries none)."""
    if isinstance(state.data, BaseException):
        return state.data
    try:
        state.result()
    except Exception as raised:
        return raised
    return None


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's `retry_condition_fn`: go on to the task's retries only for transient errors."""
    exc = exception_of(state)
    return exc is not None and is_transient(exc)


# Keyword arguments of every retried I/O task: two more attempts, transient errors only.
IO_RETRIES: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": [1, 5],
    "retry_condition_fn": retry_if_transient,
}
