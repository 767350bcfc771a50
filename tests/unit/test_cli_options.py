"""Installer-facing options reach the settings the core uses."""

from pathlib import Path

from app.cli import build_parser, settings_from_args


def test_ocpp_options_before_or_after_serve():
    args = build_parser().parse_args([
        "--unknown-chargers", "pending", "serve", "--headless", "--security-profile", "2",
        "--tls-cert", "c.pem", "--tls-key", "k.pem", "--auth-mode", "known_tags",
        "--heartbeat-interval", "30", "--frame-retention-days", "3"])
    s = settings_from_args(args)
    assert s.unknown_charger_policy == "pending" and s.security_profile == 2
    assert s.tls_cert == Path("c.pem") and s.tls_key == Path("k.pem")
    assert s.auth_mode == "known_tags" and s.heartbeat_interval_s == 30
    assert s.frame_retention_days == 3


def test_defaults_are_the_documented_ones():
    s = settings_from_args(build_parser().parse_args(["serve", "--headless"]))
    assert (s.unknown_charger_policy, s.auth_mode, s.security_profile) == (
        "accept", "accept_all", 0)
    assert s.frame_retention_days == 14 and s.resolved_ocpp_host == "0.0.0.0"


def test_binding_window_and_ice_grace_are_settings():
    from app.cli import build_parser, settings_from_args

    s = settings_from_args(build_parser().parse_args(
        ["serve", "--binding-window", "90", "--ice-grace", "15"]))
    assert (s.binding_window_s, s.ice_grace_min) == (90.0, 15.0)
    assert {"binding_window_s", "ice_grace_min"} <= s.explicit
    stored = settings_from_args(build_parser().parse_args(["serve"]))
    assert stored.apply_stored({"binding.window_s": 60, "binding.ice_grace_min": 5}) == [
        "binding_window_s", "ice_grace_min"]
    assert (stored.binding_window_s, stored.ice_grace_min) == (60.0, 5.0)
