"""Refusals become AccessDenied events, sampled per caller and operation."""

from __future__ import annotations

from labelmesh.core.denials import DenialRecorder
from labelmesh.core.envelopes import user_actor
from labelmesh.core.errors import Forbidden
from labelmesh.testing.memory import InMemoryUnitOfWork, MemoryState


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_the_first_refusal_is_recorded_and_repeats_are_counted_into_the_next() -> None:
    uow, clock = InMemoryUnitOfWork(MemoryState()), Clock()
    recorder = DenialRecorder(uow, "review", window_seconds=60, clock=clock)
    refusal = Forbidden("ROLE_ANNOTATOR may not flag items here", user_actor("ana"), "p1")
    for _ in range(5):
        recorder.record(refusal, "POST /v1/items/{item_id}/flag")
    recorder.record(refusal, "GET /v1/projects/{project_id}/reports/agreement")
    recorder.record(Forbidden("no actor known"), "GET /x")  # nothing to say who
    clock.now += 61
    recorder.record(refusal, "POST /v1/items/{item_id}/flag")
    await recorder.drain()
    envelopes = uow.emitted("access_denied")
    denied = [e.access_denied for e in envelopes]
    assert [(d.operation, d.sampled_count) for d in denied] == [
        ("POST /v1/items/{item_id}/flag", 1),
        ("GET /v1/projects/{project_id}/reports/agreement", 1),
        ("POST /v1/items/{item_id}/flag", 5),  # four held back, and this one
    ]
    assert denied[0].service == "review" and "may not flag" in denied[0].reason
    assert (envelopes[2].actor.id, envelopes[2].project_id) == ("ana", "p1")


async def test_ended_windows_are_forgotten_and_what_they_held_back_is_written() -> None:
    uow, clock = InMemoryUnitOfWork(MemoryState()), Clock()
    recorder = DenialRecorder(uow, "review", window_seconds=60, clock=clock)
    ana = Forbidden("ROLE_ANNOTATOR may not flag items here", user_actor("ana"), "p1")
    for _ in range(3):  # ana retries twice, then stops
        recorder.record(ana, "POST /v1/items/{item_id}/flag")
    for n in range(1000):  # callers refused once each
        recorder.record(Forbidden("no", user_actor(f"bot-{n}")), "GET /x")
    clock.now += 61
    recorder.record(Forbidden("no", user_actor("late")), "GET /x")
    await recorder.drain()

    assert recorder.open_windows == 1  # only the caller refused in the last window
    flagged = [
        e.access_denied.sampled_count
        for e in uow.emitted("access_denied")
        if e.access_denied.operation.startswith("POST")
    ]
    assert flagged == [1, 2]  # the first at once, the two retries when their window ended
