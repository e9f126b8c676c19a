import pytest
from pydantic import Field

from labelmesh.core.config import ConfigError, ServiceSettings, load


class DemoSettings(ServiceSettings):
    rest_port: int = Field(
        default=8000, ge=0, le=65535, validation_alias="LABELMESH_DEMO_REST_PORT"
    )


def test_defaults_point_at_the_embedded_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABELMESH_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    settings = load(DemoSettings)
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.object_store == "local"
    assert settings.rest_port == 8000


def test_service_variables_use_the_service_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABELMESH_DEMO_REST_PORT", "9100")
    monkeypatch.setenv("LABELMESH_MONGO_DATABASE", "elsewhere")
    settings = load(DemoSettings)
    assert settings.rest_port == 9100
    assert settings.mongo_database == "elsewhere"


def test_bad_values_name_the_variable_and_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABELMESH_DEMO_REST_PORT", "http")
    monkeypatch.setenv("LABELMESH_OBJECT_STORE", "gcs")
    with pytest.raises(ConfigError) as error:
        load(DemoSettings)
    message = str(error.value)
    assert "LABELMESH_DEMO_REST_PORT='http'" in message
    assert "LABELMESH_OBJECT_STORE='gcs'" in message


def test_overload_limits_default_for_a_small_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(DemoSettings)
    assert settings.max_requests_in_flight == 64
    assert settings.request_deadline_seconds <= 5
    monkeypatch.setenv("LABELMESH_MAX_REQUESTS_IN_FLIGHT", "0")
    with pytest.raises(ConfigError, match="LABELMESH_MAX_REQUESTS_IN_FLIGHT='0'"):
        load(DemoSettings)
