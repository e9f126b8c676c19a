"""What fetching a URL gives or why it failed, and the byte limits a fetch keeps
to while its answer arrives. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field

# Why a fetch failed, as counted in metrics.
OUTCOMES = (
    "fetched",
    "invalid_url",
    "denied",
    "too_large",
    "timeout",
    "http_status",
    "unsupported",
    "redirects",
    "failed",
    "batch_full",
)


@dataclass(frozen=True)
class Fetched:
    """A URL's content, its media type as sniffed from the bytes, and its file name."""

    content: bytes
    content_type: str
    filename: str


class FetchFailed(Exception):
    """A URL could not be fetched: `outcome` is one of OUTCOMES, `reason` says why."""

    def __init__(self, outcome: str, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


class BatchFull(FetchFailed):
    """The fetch would take the request's fetches past their byte pool: it may
    succeed in a later batch."""

    def __init__(self, capacity: int) -> None:
        super().__init__(
            "batch_full",
            f"the request's URLs together exceed {capacity} bytes; import fewer per request",
        )


@dataclass
class BytePool:
    """The bytes the fetches of one request may hold together."""

    capacity: int
    held: int = 0

    def take(self, count: int) -> bool:
        if self.held + count > self.capacity:
            return False
        self.held += count
        return True

    def give_back(self, count: int) -> None:
        self.held -= count


@dataclass
class FetchBudget:
    """One fetch's answer as it arrives: at most `max_bytes`, drawn from `pool`."""

    max_bytes: int
    pool: BytePool | None = None
    _chunks: list[bytes] = field(default_factory=list)
    _size: int = 0

    def check(self, declared: int) -> None:
        """Refuse an answer whose declared length is over the limit, before reading it."""
        if declared > self.max_bytes:
            raise FetchFailed(
                "too_large", f"declares {declared} bytes, over the limit of {self.max_bytes}"
            )

    def add(self, chunk: bytes) -> None:
        if self._size + len(chunk) > self.max_bytes:
            raise FetchFailed("too_large", f"more than the limit of {self.max_bytes} bytes")
        if self.pool is not None and not self.pool.take(len(chunk)):
            # Given back at once, so that the fetches still running can finish.
            self.release()
            raise BatchFull(self.pool.capacity)
        self._chunks.append(chunk)
        self._size += len(chunk)

    def content(self) -> bytes:
        return b"".join(self._chunks)

    def release(self) -> None:
        """Give the bytes held back to the pool: the fetch failed."""
        if self.pool is not None:
            self.pool.give_back(self._size)
        self._chunks.clear()
        self._size = 0
