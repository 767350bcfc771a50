from app.adapters.ocpp.lenient import relax, request_schema
from app.domain.site import OcppVersion


def test_16_status_notification_repairs():
    schema = request_schema(OcppVersion.V16, "StatusNotification")
    fixed, notes = relax({"connectorId": "1", "errorCode": "noerror", "status": "AVAILABLE",
                          "vendorExtra": "x"}, schema)
    assert fixed == {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
    assert len(notes) == 4


def test_201_nested_definitions_repair():
    schema = request_schema(OcppVersion.V201, "StatusNotification")
    fixed, notes = relax({"timestamp": "2026-11-21T10:00:00Z", "connectorStatus": "occupied",
                          "evseId": "2", "connectorId": 1}, schema)
    assert fixed["connectorStatus"] == "Occupied" and fixed["evseId"] == 2
    assert notes


def test_unknown_action_has_no_schema():
    assert request_schema(OcppVersion.V16, "MakeCoffee") is None
