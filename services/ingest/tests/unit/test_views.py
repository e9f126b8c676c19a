"""The REST shapes of the ingest resources."""

from labelmesh.core.errors import InvalidField
from labelmesh.core.labels import message_to_json
from labelmesh.ingest import views
from labelmesh.ingest.usecases import UploadOutcome


def test_upload_results_built_directly_are_the_proto_json_of_the_message() -> None:
    outcomes = [
        UploadOutcome(0, item_id="a"),
        UploadOutcome(1, error=InvalidField("items[1].text", "empty")),
        UploadOutcome(2, item_id="a", duplicate=True),
    ]
    direct = views.upload_results_json(outcomes)
    assert direct == message_to_json(views.upload_results(outcomes))
    assert direct["results"][1] == {
        "index": 1,
        "item_id": "",
        "duplicate": False,
        "error": {"field": "items[1].text", "reason": "empty"},
    }
