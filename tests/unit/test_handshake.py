import pytest

from app.adapters.ocpp.handshake import charger_id_from_path, pick_subprotocol, version_of
from app.domain.site import OcppVersion


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/ocpp/CP-01", "CP-01"),
        ("/CP-01", "CP-01"),
        ("//ocpp//CP-01", "CP-01"),
        ("/ocpp/CP-01/", "CP-01"),
        ("/ocpp/CP%2001", "CP 01"),
        ("/ocpp/CP+01", "CP+01"),
        ("/ocpp/CP-01?token=x", "CP-01"),
        ("/OCPP/cp-a", "cp-a"),
        ("/ocpp", "ocpp"),  # a charger literally named "ocpp" at the root
        ("/", None),
        ("", None),
        ("/a/b/c", None),
    ],
)
def test_charger_id_from_path(path, expected):
    assert charger_id_from_path(path) == expected


def test_subprotocol_matched_case_insensitively_and_echoed_as_offered():
    assert pick_subprotocol(["OCPP1.6"]) == "OCPP1.6"
    assert pick_subprotocol(["ocpp2.0", "Ocpp2.0.1"]) == "Ocpp2.0.1"
    assert pick_subprotocol(["ocpp1.5"]) is None
    assert pick_subprotocol([]) is None


def test_version_of_subprotocol():
    assert version_of("OCPP1.6") is OcppVersion.V16
    assert version_of("ocpp2.0.1") is OcppVersion.V201
    assert version_of(None) is None
    assert version_of("ocpp9") is None
