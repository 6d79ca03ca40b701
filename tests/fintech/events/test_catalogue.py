"""The catalogue is documented where integrators read it: docs/events.md and the OpenAPI schema's
`webhooks` section, each type with the schema the code writes."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from fintech.services.events import AUDIT_EVENTS, CATALOGUE, data_schema

ROOT = Path(__file__).resolve().parents[3]


def test_every_type_is_in_docs_events_md_with_its_details_schema() -> None:
    text = (ROOT / "docs" / "events.md").read_text()
    for name, event_type in CATALOGUE.items():
        assert f"### `{name}` (version {event_type.version})" in text
        details = json.dumps({"type": "object", "properties": event_type.details}, indent=2)
        assert details in text, name


def test_every_type_is_a_webhook_of_the_openapi_schema() -> None:
    schema = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    assert schema["openapi"].startswith("3.1")
    assert set(schema["webhooks"]) == set(CATALOGUE)
    for name, event_type in CATALOGUE.items():
        body = schema["webhooks"][name]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body == data_schema(event_type)


def test_every_audited_change_of_the_catalogue_names_a_catalogued_type() -> None:
    assert set(AUDIT_EVENTS.values()) <= set(CATALOGUE)
