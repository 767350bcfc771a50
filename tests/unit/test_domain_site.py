import json

import pytest

import resources
from app.domain.site import Bay, ChargerConfig, Site, Zone
from app.domain.site_io import SiteFormatError, site_from_dict, site_to_dict


def _demo_doc():
    return json.loads(resources.path("demo", "site.json").read_text("utf-8"))


def test_demo_site_is_the_promised_site():
    site = site_from_dict(_demo_doc())
    assert len(site.bays) == 12
    assert len(site.chargers) == 6
    assert all(c.connectors == 2 for c in site.chargers)
    assert {str(c.ocpp_version) for c in site.chargers} == {"1.6", "2.0.1"}
    assert sorted(ln.direction.value for ln in site.lanes) == ["entry", "exit"]
    # every connector of every charger is at exactly one bay
    bound = {(b.charger_id, b.connector_id) for b in site.bays}
    assert bound == {(c.id, n) for c in site.chargers for n in (1, 2)}


def test_round_trip_keeps_everything():
    site = site_from_dict(_demo_doc())
    assert site_from_dict(site_to_dict(site)) == site


def test_bay_for_connector():
    site = site_from_dict(_demo_doc())
    assert site.bay_for("CP-03", 2).id == "EV-06"
    assert site.bay_for("CP-03", 3) is None


def test_validation_names_the_problem():
    site = Site(
        name="x",
        zones=(Zone("Z", "Z"),),
        chargers=(ChargerConfig("CP", connectors=1),),
        bays=(Bay("B1", "B1", "Z", "CP", 1), Bay("B2", "B2", "Z", "CP", 1),
              Bay("B3", "B3", "nope"), Bay("B4", "B4", "Z", "CP", 2)),
    )
    problems = " | ".join(site.validate())
    assert "B2" in problems and "already bound" in problems
    assert "B3: unknown zone 'nope'" in problems
    assert "B4: charger CP has no connector 2" in problems


def test_malformed_document_is_a_clear_error():
    with pytest.raises(SiteFormatError, match="missing field 'name'"):
        site_from_dict({})
    doc = _demo_doc()
    doc["chargers"][0]["ocpp_version"] = "9.9"
    with pytest.raises(SiteFormatError, match=r"9\.9"):
        site_from_dict(doc)
    doc = _demo_doc()
    del doc["bays"][0]["zone_id"]
    with pytest.raises(SiteFormatError, match="bay EV-01: missing field 'zone_id'"):
        site_from_dict(doc)
