"""CSV import of chargers, bays and tags: good files, every bad row reported, all or nothing."""

from __future__ import annotations

import io

import pytest

from app.domain.site import OcppVersion
from app.site_import import RowError, SiteImportError, example_files, read_site_csv

CHARGERS = "id,ocpp_version,connectors,label,max_power_w\nCP-01,1.6,2,Wallbox,22000\n" \
           "CP-02,2.0.1,1,DC,50 kW\n"
BAYS = "id,label,zone,charger_id,connector_id\nEV-01,EV 01,P1-EV,CP-01,1\n" \
       "EV-02,EV 02,P1-EV,CP-01,2\nEV-03,,P1-EV,CP-02,\nP-01,Visitor,P1,,\n"


def files(tmp_path, chargers: str = CHARGERS, bays: str = BAYS, tags: str | None = None,
          encoding: str = "utf-8"):
    c, b = tmp_path / "chargers.csv", tmp_path / "bays.csv"
    c.write_text(chargers, encoding=encoding)
    b.write_text(bays, encoding=encoding)
    t = None
    if tags is not None:
        t = tmp_path / "tags.csv"
        t.write_text(tags, encoding=encoding)
    return c, b, t


def errors_of(tmp_path, **kw) -> list[str]:
    c, b, t = files(tmp_path, **kw)
    with pytest.raises(SiteImportError) as info:
        read_site_csv(c, b, tags=t, name="Site")
    return [str(e) for e in info.value.errors]


def test_good_files_make_a_valid_site(tmp_path):
    c, b, _ = files(tmp_path)
    result = read_site_csv(c, b, name="  Harbour Street ")
    site = result.site
    assert site.name == "Harbour Street"
    assert [(ch.id, ch.ocpp_version, ch.connectors, ch.max_power_w) for ch in site.chargers] == [
        ("CP-01", OcppVersion.V16, 2, 22000), ("CP-02", OcppVersion.V201, 1, 50000)]
    bays = {bay.id: bay for bay in site.bays}
    assert bays["EV-03"].label == "EV-03" and bays["EV-03"].connector_id == 1  # one connector
    assert bays["P-01"].charger_id is None
    assert {z.id: z.capacity for z in site.zones} == {"P1-EV": 3, "P1": 1}
    # no x/y in the file: rows of six in file order
    assert [(bay.x, bay.y) for bay in site.bays] == [(0, 0), (1, 0), (2, 0), (3, 0)]
    assert site.validate() == []
    assert result.summary() == "2 charger(s), 4 bay(s) in 2 zone(s)"


def test_excel_style_semicolons_bom_aliases_and_case(tmp_path):
    chargers = "\ufeffID;Version;Connectors;Name\nCP-01;OCPP1.6J;2;Left\n"
    bays = "Id;Zone Id;Charger;Connector;X;Y\nB1;EV;CP-01;2;4,5;1\n\n# a comment\n"
    c, b, _ = files(tmp_path, chargers=chargers, bays=bays)
    site = read_site_csv(c, b, name="S").site
    assert site.chargers[0].label == "Left" and site.chargers[0].ocpp_version is OcppVersion.V16
    assert (site.bays[0].connector_id, site.bays[0].x, site.bays[0].y) == (2, 4.5, 1.0)


def test_every_bad_row_is_reported_with_file_and_line(tmp_path):
    chargers = CHARGERS + "CP 03,1.6,2,,\nCP-01,1.6,2,,\nCP-04,1.5,2,,\nCP-05,1.6,x,,\n" \
                          "CP-06,1.6,2,,5\n"
    bays = BAYS + "EV-04,,P1-EV,CP-09,1\nEV-05,,P1-EV,CP-01,3\nEV-06,,P1-EV,CP-01,1\n" \
                  "EV-01,,P1-EV,,\nEV-07,,P1-EV,,2\n"
    errors = errors_of(tmp_path, chargers=chargers, bays=bays)
    assert errors == [
        "chargers.csv line 4: charger id 'CP 03' must be 1-48 letters, digits or . _ - : "
        "without spaces (it is the last part of the charger's OCPP URL)",
        "chargers.csv line 5: charger CP-01 is listed twice (first on line 2)",
        "chargers.csv line 6: ocpp_version '1.5' is not 1.6 or 2.0.1",
        "chargers.csv line 7: connectors 'x' is not a number",
        "chargers.csv line 8: max_power_w '5' is outside 1 kW .. 1000 kW",
        "bays.csv line 6: charger CP-09 is not in the chargers file",
        "bays.csv line 7: charger CP-01 has no connector 3 (it has 2)",
        "bays.csv line 8: connector CP-01/1 is already bound to bay EV-01",
        "bays.csv line 9: bay EV-01 is listed twice (first on line 2)",
        "bays.csv line 10: connector_id without a charger_id",
    ]


def test_missing_connector_on_a_two_connector_charger(tmp_path):
    errors = errors_of(tmp_path, bays="id,charger_id\nB1,CP-01\n")
    assert errors == ["bays.csv line 2: charger CP-01 has 2 connectors: say which one "
                      "(connector_id)"]


def test_file_level_problems_stop_before_the_rows(tmp_path):
    errors = errors_of(tmp_path, chargers="name,colour\nx,red\n", bays="")
    assert errors == [
        "chargers.csv line 1: unknown column(s) colour; the columns are id, ocpp_version, "
        "connectors, label, max_power_w",
        "chargers.csv line 1: the column 'id' is missing",
        "bays.csv line 1: the file is empty (no header row)",
    ]


def test_unreadable_file(tmp_path):
    c, _, _ = files(tmp_path)
    with pytest.raises(SiteImportError) as info:
        read_site_csv(c, tmp_path / "nope.csv", name="S")
    assert info.value.errors[0].file == "nope.csv"
    assert "cannot read" in info.value.errors[0].message


def test_tags(tmp_path):
    c, b, t = files(tmp_path, tags="id_token,label,status\nAA11,Card 1,\nBB22,Card 2,blocked\n")
    result = read_site_csv(c, b, tags=t, name="S")
    assert result.tags == (("AA11", "Card 1", "Accepted"), ("BB22", "Card 2", "Blocked"))
    errors = errors_of(tmp_path, tags="id_token,label,status\nAA11,,lost\nAA11,,\n,Card,\n"
                                     "AA11,,\n")
    assert errors == [
        "tags.csv line 2: status 'lost' is not one of Accepted, Blocked, Expired, Invalid",
        "tags.csv line 4: id_token must be 1-64 characters",
        "tags.csv line 5: tag AA11 is listed twice (first on line 3)",
    ]


def test_text_streams_and_the_examples_parse(tmp_path):
    examples = dict(example_files())
    result = read_site_csv(io.StringIO(examples["chargers.csv"]),
                           io.StringIO(examples["bays.csv"]),
                           tags=io.StringIO(examples["tags.csv"]), name="Example")
    assert result.summary() == "2 charger(s), 3 bay(s) in 1 zone(s), 1 tag(s)"


def test_a_site_needs_a_name(tmp_path):
    c, b, _ = files(tmp_path)
    with pytest.raises(SiteImportError) as info:
        read_site_csv(c, b, name=" ")
    assert info.value.errors == [RowError("setup", 0, "the site needs a name")]
