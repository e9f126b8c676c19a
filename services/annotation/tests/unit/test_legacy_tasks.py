from datetime import UTC, datetime

from labelmesh.annotation.adapters.legacy_tasks import overlap_fields

TAKEN = datetime(2026, 4, 1, tzinfo=UTC)


def test_an_assigned_task_keeps_its_annotator_and_the_time_they_took_it() -> None:
    fields = overlap_fields({"status": "assigned", "assignee": "ana", "assigned_at": TAKEN})
    assert fields["takers"] == fields["assigned"] == ["ana"]
    assert (fields["submitted"], fields["open_slots"], fields["overlap"]) == ([], 0, 1)
    assert fields["assigned_at"] == [{"annotator": "ana", "at": TAKEN}]


def test_submitted_and_completed_tasks_count_their_annotator_as_done() -> None:
    for status in ("submitted", "completed"):
        fields = overlap_fields({"status": status, "assignee": "ana"})
        assert (fields["takers"], fields["assigned"], fields["submitted"]) == (["ana"], [], ["ana"])
        assert fields["assigned_at"] == []


def test_open_and_reopened_tasks_have_their_slot_free() -> None:
    for task in ({"status": "open", "assignee": None}, {"status": "pending"}):
        fields = overlap_fields(task)
        assert (fields["takers"], fields["open_slots"], fields["round"]) == ([], 1, 0)
