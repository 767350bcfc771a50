"""Registry policies and security profiles 1 (HTTP Basic) and 2 (TLS + Basic)."""

from __future__ import annotations

import base64
import ssl
import subprocess

import pytest
from sqlalchemy import create_engine, select
from websockets.exceptions import InvalidStatus

from app.adapters.db import tables as t
from app.bootstrap import build_core
from tests.helpers.raw_client import RawCharger

BOOT16 = {"chargePointVendor": "V", "chargePointModel": "M"}


def basic(user: str, password: str) -> dict:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"additional_headers": {"Authorization": f"Basic {token}"}}


async def running(settings):
    core = await build_core(settings)
    await core.start()
    return core


def url_of(core, scheme="ws"):
    return f"{scheme}://127.0.0.1:{core.ocpp_server.port}/ocpp"


def audit_rows(settings):
    engine = create_engine(settings.resolved_db_url)
    with engine.connect() as conn:
        rows = conn.execute(select(t.audit_log)).all()
    engine.dispose()
    return rows


async def test_profile1_wrong_password_refused_logged_and_audited(settings, caplog):
    settings.security_profile = 1
    core = await running(settings)
    try:
        core.charging.set_password("CP-01", "correct horse battery", actor="installer")
        with pytest.raises(InvalidStatus) as err:
            await RawCharger.open(url_of(core), "CP-01", **basic("CP-01", "wrong"))
        assert err.value.response.status_code == 401
        assert b"wrong" not in err.value.response.body  # nothing leaks
        with pytest.raises(InvalidStatus):
            await RawCharger.open(url_of(core), "CP-02")  # no password at all
        cp = await RawCharger.open(url_of(core), "CP-01", **basic("CP-01", "correct horse battery"))
        assert (await cp.call("BootNotification", BOOT16))[2]["status"] == "Accepted"
        await cp.close()
    finally:
        await core.stop()
    assert "wrong password" in caplog.text
    actions = [(r.action, r.target) for r in audit_rows(settings)]
    assert ("charger_login_failed", "CP-01") in actions
    assert ("charger_login_failed", "CP-02") in actions
    assert ("charger_password_set", "CP-01") in actions


async def test_reject_policy_refuses_unknown_ids_at_the_handshake(settings):
    settings.unknown_charger_policy = "reject"
    core = await running(settings)
    try:
        with pytest.raises(InvalidStatus) as err:
            await RawCharger.open(url_of(core), "STRANGER")
        assert err.value.response.status_code == 404
        cp = await RawCharger.open(url_of(core), "CP-01")  # configured: welcome
        await cp.close()
    finally:
        await core.stop()


async def test_pending_policy_until_an_installer_approves(settings):
    settings.unknown_charger_policy = "pending"
    core = await running(settings)
    try:
        cp = await RawCharger.open(url_of(core), "NEWCOMER")
        assert (await cp.call("BootNotification", BOOT16))[2]["status"] == "Pending"
        core.charging.approve("NEWCOMER", actor="installer")
        assert (await cp.call("BootNotification", BOOT16))[2]["status"] == "Accepted"
        await cp.close()
    finally:
        await core.stop()
    # the approval survives a restart
    core = await running(settings)
    try:
        assert core.charging.is_known("NEWCOMER")
    finally:
        await core.stop()


@pytest.fixture
def certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


async def test_profile2_tls_with_basic_auth(settings, certificate):
    settings.security_profile = 2
    settings.tls_cert, settings.tls_key = certificate
    core = await running(settings)
    try:
        assert core.ocpp_url.startswith("wss://")
        core.charging.set_password("CP-01", "s3cret-s3cret-16", actor="installer")
        client_ssl = ssl.create_default_context(cafile=str(certificate[0]))
        cp = await RawCharger.open(url_of(core, "wss"), "CP-01", ssl=client_ssl,
                                   **basic("CP-01", "s3cret-s3cret-16"))
        assert (await cp.call("BootNotification", BOOT16))[2]["status"] == "Accepted"
        await cp.close()
        with pytest.raises(InvalidStatus):
            await RawCharger.open(url_of(core, "wss"), "CP-01", ssl=client_ssl,
                                  **basic("CP-01", "nope"))
    finally:
        await core.stop()


async def test_profile2_without_certificate_is_a_clear_error(settings):
    settings.security_profile = 2
    with pytest.raises(ValueError, match="certificate"):
        await build_core(settings)


async def test_approval_in_the_console_makes_the_charger_boot_again(settings):
    import asyncio

    from ocpp.routing import on
    from ocpp.v16 import call_result
    from ocpp.v16.enums import Action

    from tests.helpers.ocpp_clients import Client16, charge_point

    triggered = asyncio.Event()

    class Pending(Client16):
        @on(Action.trigger_message)
        def on_trigger(self, requested_message, **kwargs):
            triggered.set()
            return call_result.TriggerMessage(status="Accepted")

    settings.unknown_charger_policy = "pending"
    core = await running(settings)
    try:
        async with charge_point(url_of(core), "NEWBIE", cls=Pending) as cp:
            assert (await cp.boot()).status == "Pending"
            result = await core.approve_charger("NEWBIE", actor="installer")
            assert result.ok and triggered.is_set()
            assert (await cp.boot()).status == "Accepted"
    finally:
        await core.stop()
    actions = [r.action for r in audit_rows(settings)]
    assert "charger_approved" in actions and "charger_trigger_message" in actions
