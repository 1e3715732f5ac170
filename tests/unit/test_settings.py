from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import structlog

from router import logs, settings
from router.cli import errors


def test_flags_override_the_environment() -> None:
    env = {"ARI_URL": "http://asterisk:8088", "ARI_APP": "from-env", "ARI_PASSWORD": "s3cret"}
    config = settings.from_env(env, ari_app="from-flag", ari_user=None)
    assert (config.ari_url, config.ari_app, config.ari_user) == (
        "http://asterisk:8088", "from-flag", "hotline-router")
    assert config.effective_router_id == "from-flag@asterisk:8088"
    assert settings.from_env({"ROUTER_ID": "r7"}).effective_router_id == "r7"


def test_secrets_never_show() -> None:
    config = settings.from_env({"ARI_PASSWORD": "s3cret",
                                "DATABASE_URL": "postgresql://router:pw123@db:5432/hr"})
    shown = f"{config!r} {config.masked()}"
    assert "s3cret" not in shown
    assert "pw123" not in shown
    assert config.masked()["database_url"] == "postgresql://router:***@db:5432/hr"


@pytest.mark.parametrize(("url", "secret", "shown"), [
    ("postgresql://u:p@ss@host/db", "p@ss", "postgresql://u:***@host/db"),
    ("postgresql://u:pa/ss@h/db", "pa/ss", "postgresql://u:***@h/db"),
    ("postgresql://u@h/db?password=pw9&sslmode=require", "pw9",
     "postgresql://u@h/db?password=***&sslmode=require"),
])
def test_a_password_is_masked_whatever_it_holds(url: str, secret: str, shown: str) -> None:
    assert settings.mask_url(url) == shown
    assert secret not in settings.mask_url(url)


def test_an_ari_url_with_credentials_is_refused() -> None:
    with pytest.raises(settings.SettingsError, match="ari_url must not carry a user"):
        settings.validate(settings.from_env({"ARI_URL": "http://ari:s3cret@pbx:8088"}))


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    file = write(tmp_path / "router.toml", 'ari_url = "http://file:8088"\nari_app = "from-file"\n'
                 'log_level = "debug"\ndrain_timeout_s = 45\n')
    loaded = settings.load(file, {"ARI_APP": "from-env", "LOG_LEVEL": "warning"},
                           log_level="error")
    config = loaded.settings
    assert (config.ari_url, config.ari_app, config.log_level, config.drain_timeout_s) == (
        "http://file:8088", "from-env", "error", 45.0)
    assert loaded.sources["ari_url"] == f"file {file}"
    assert loaded.sources["ari_app"] == "env ARI_APP"
    assert loaded.sources["log_level"] == "flag"
    assert loaded.sources["ari_user"] == "default"


def test_the_file_can_be_named_by_the_environment(tmp_path: Path) -> None:
    file = write(tmp_path / "router.toml", 'router_id = "edge-1"\n')
    config = settings.from_env({"HOTLINE_ROUTER_CONFIG": str(file)})
    assert config.effective_router_id == "edge-1"


@pytest.mark.parametrize(("text", "env", "message"), [
    ('ari_urll = "x"\n', {}, "unknown setting(s) ari_urll"),
    ("ari_url = \n", {}, "is not valid TOML"),
    ("drain_timeout_s = \"soon\"\n", {}, "drain_timeout_s"),
    ("ari_port = 8088\n", {}, "known: database_url"),
    ("", {"DRAIN_TIMEOUT_S": "-1"}, "drain_timeout_s must be 0 to 86400 seconds"),
    ("", {"METRICS_REFRESH_S": "fast"}, "metrics_refresh_s ($METRICS_REFRESH_S) must be a number"),
    ("", {"LOG_FORMAT": "xml", "ARI_URL": "ws://x"},
     "ari_url must start with http:// or https://; log_format must be one of"),
    ("", {"HTTP_LISTEN": "localhost"}, "http_listen must be HOST:PORT"),
    ("", {"ARI_APP": "bad app"}, "ari_app must be"),
    ("ari_user = 7\n", {}, "ari_user"),
    ("", {"HISTORY_KEEP_MONTHS": "a year"},
     "history_keep_months ($HISTORY_KEEP_MONTHS) must be a whole number"),
    ("history_keep_months = 1.5\n", {}, "history_keep_months"),
    ("history_keep_months = true\n", {}, "history_keep_months"),
    ("history_keep_months = 1201\n", {}, "history_keep_months must be 0 (keep forever) to 1200"),
])
def test_bad_settings_are_named(tmp_path: Path, text: str, env: dict[str, str],
                                message: str) -> None:
    file = write(tmp_path / "router.toml", text)
    with pytest.raises(settings.SettingsError) as refused:
        settings.load(file, env)
    assert message in str(refused.value)


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(settings.SettingsError, match="cannot read"):
        settings.load(tmp_path / "nope.toml", {})


def test_the_example_file_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "docker" / "router.example.toml"
    assert settings.load(example, {}).sources["drain_timeout_s"].startswith("file ")


def test_config_check_prints_masked_settings_and_refuses_bad_ones(tmp_path: Path) -> None:
    file = write(tmp_path / "router.toml", 'ari_app = "hotline-router-a"\n')
    env = {"PATH": os.environ["PATH"], "ARI_PASSWORD": "s3cret",
           "DATABASE_URL": "postgresql://router:pw123@db/hr"}
    shown = subprocess.run([sys.executable, "-m", "router", "config", "check", "--config",
                            str(file), "--json"], capture_output=True, text=True, env=env,
                           timeout=30)
    assert shown.returncode == 0, shown.stderr
    assert "s3cret" not in shown.stdout
    assert "pw123" not in shown.stdout
    checked = json.loads(shown.stdout)
    effective, sources = checked["settings"], checked["sources"]
    assert (effective["ari_app"], effective["ari_password"], effective["database_url"]) == (
        "hotline-router-a", "***", "postgresql://router:***@db/hr")
    # numbers are numbers, and each setting says where it came from
    assert effective["drain_timeout_s"] == 300.0
    assert all(isinstance(effective[name], float) for name in (
        "drain_timeout_s", "heartbeat_s", "router_lease_s", "max_call_s", "db_timeout_s"))
    assert (sources["ari_app"], sources["ari_password"], sources["drain_timeout_s"]) == (
        f"file {file}", "env ARI_PASSWORD", "default")
    assert set(sources) == set(effective)

    table = subprocess.run([sys.executable, "-m", "router", "config", "check", "--config",
                            str(file)], capture_output=True, text=True, env=env, timeout=30)
    assert "ari_app" in table.stdout
    assert f"file {file}" in table.stdout
    assert table.stdout.strip().endswith("settings are valid")

    bad = subprocess.run([sys.executable, "-m", "router", "config", "check", "--config",
                          str(file)], capture_output=True, text=True,
                         env={**env, "LOG_LEVEL": "loud"}, timeout=30)
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "hotline-router: bad settings: log_level must be debug, info, warning or error")


def test_plan_clock_pins_schedules_and_must_carry_an_offset() -> None:
    pinned = settings.from_env({"PLAN_CLOCK": "2026-10-01T10:00:00+08:00"})
    assert pinned.pinned_plan_time is not None
    assert pinned.pinned_plan_time.isoformat() == "2026-10-01T10:00:00+08:00"
    assert settings.from_env({}).pinned_plan_time is None
    for bad in ("2026-10-01T10:00:00", "National Day"):
        with pytest.raises(settings.SettingsError, match="plan_clock must be an ISO 8601 time"):
            settings.from_env({"PLAN_CLOCK": bad})


def test_rating_settings_are_settings() -> None:
    """The rating loop's delay and interval come from the file, env or defaults like
    every other setting, and config check names a bad one."""
    assert (settings.from_env({}).rating_delay_s, settings.from_env({}).rating_interval_s) == (
        2.0, 1.0)
    assert settings.from_env({"RATING_DELAY_S": "30"}).rating_delay_s == 30.0
    with pytest.raises(settings.SettingsError, match="rating_interval_s must be 0 to 86400"):
        settings.from_env({"RATING_INTERVAL_S": "-1"})
    bad = subprocess.run([sys.executable, "-m", "router", "config", "check"],
                         capture_output=True, text=True, timeout=30,
                         env={"PATH": os.environ["PATH"], "RATING_DELAY_S": "abc"})
    assert bad.returncode == 2
    assert bad.stderr.strip() == ("hotline-router: bad settings: rating_delay_s "
                                  "($RATING_DELAY_S) must be a number of seconds, not 'abc'")


# --- Secrets: every secret of a connection string masked, the ARI password from a file.

@pytest.mark.parametrize(("url", "secrets", "shown"), [
    ("postgresql://u@h/db?sslmode=verify-full&sslkey=/k.pem&sslpassword=keypass7",
     ["keypass7"], "postgresql://u@h/db?sslmode=verify-full&sslkey=/k.pem&sslpassword=***"),
    ("postgresql://u:pw1@h/db?PassWord=pw2&pass%77ord=pw3&sslpassword=a@b",
     ["pw1", "pw2", "pw3", "a@b"],
     "postgresql://u:***@h/db?PassWord=***&pass%77ord=***&sslpassword=***"),
    ("postgresql://u:pa?ss@h/db?application_name=x", ["pa?ss"],
     "postgresql://u:***@h/db?application_name=x"),
    ("postgresql://h/db?krbsrvname=pg&my_passphrase=pp1&api_token=tk1&client_secret=cs1",
     ["pp1", "tk1", "cs1"],
     "postgresql://h/db?krbsrvname=pg&my_passphrase=***&api_token=***&client_secret=***"),
    # A password file is where the password lives, not the password: shown.
    ("postgresql://router@h/db?passfile=/etc/hotline-router/pgpass", [],
     "postgresql://router@h/db?passfile=/etc/hotline-router/pgpass"),
])
def test_every_secret_parameter_of_a_connection_string_is_masked(
        url: str, secrets: list[str], shown: str) -> None:
    assert settings.mask_url(url) == shown
    config = settings.from_env({"DATABASE_URL": url})
    for secret in secrets:
        assert secret not in f"{config!r} {config.masked()} {config.typed()}"


def test_the_ari_password_comes_from_a_file(tmp_path: Path) -> None:
    secret = write(tmp_path / "ari-password", "filepw42\nnot this line\n")
    loaded = settings.load(None, {"ARI_PASSWORD_FILE": str(secret)})
    assert loaded.settings.ari_password == "filepw42"
    assert loaded.sources["ari_password"] == "env ARI_PASSWORD_FILE (ari_password_file)"
    assert "filepw42" not in f"{loaded.settings!r} {loaded.settings.typed()}"
    flagged = settings.load(None, {}, ari_password_file=str(secret)).settings
    assert flagged.ari_password == "filepw42"


@pytest.mark.parametrize(("env", "problem"), [
    ({"ARI_PASSWORD": "x", "ARI_PASSWORD_FILE": "{file}"},
     "ari_password (env ARI_PASSWORD) and ari_password_file (env ARI_PASSWORD_FILE) are both "
     "given: keep only the file"),
    ({"ARI_PASSWORD_FILE": "{missing}"},
     "ari_password_file {missing}: cannot read it (No such file or directory)"),
    ({"ARI_PASSWORD_FILE": "{empty}"},
     "ari_password_file {empty}: the file is empty; put the password on its first line"),
])
def test_a_password_file_that_cannot_serve_is_named(tmp_path: Path, env: dict[str, str],
                                                    problem: str) -> None:
    paths = {"file": str(write(tmp_path / "pw", "x\n")), "missing": str(tmp_path / "none"),
             "empty": str(write(tmp_path / "empty", ""))}
    with pytest.raises(settings.SettingsError) as refused:
        settings.load(None, {k: v.format(**paths) for k, v in env.items()})
    assert str(refused.value) == problem.format(**paths)


def test_a_secret_of_the_wrong_type_is_not_echoed(tmp_path: Path) -> None:
    file = write(tmp_path / "router.toml", "ari_password = 20261130\n")
    with pytest.raises(settings.SettingsError) as refused:
        settings.load(file, {})
    assert "20261130" not in str(refused.value)
    assert "ari_password" in str(refused.value)


def test_config_check_masks_secret_parameters_and_reads_the_password_file(
        tmp_path: Path) -> None:
    secret = write(tmp_path / "ari-password", "filepw42\n")
    env = {"PATH": os.environ["PATH"], "ARI_PASSWORD_FILE": str(secret),
           "DATABASE_URL": "postgresql://router:pw123@db/hr?sslpassword=keypass7&sslmode=require"}
    for json_flag in (["--json"], []):
        shown = subprocess.run([sys.executable, "-m", "router", "config", "check", *json_flag],
                               capture_output=True, text=True, env=env, timeout=30)
        assert shown.returncode == 0, shown.stderr
        for leaked in ("pw123", "keypass7", "filepw42"):
            assert leaked not in shown.stdout + shown.stderr
        assert "sslpassword=***" in shown.stdout
    checked = json.loads(subprocess.run(
        [sys.executable, "-m", "router", "config", "check", "--json"], capture_output=True,
        text=True, env=env, timeout=30).stdout)
    assert (checked["settings"]["ari_password"], checked["settings"]["ari_password_file"]) == (
        "***", str(secret))


def test_the_password_flag_warns_that_the_command_line_is_public() -> None:
    helped = subprocess.run([sys.executable, "-m", "router", "run", "--help"],
                            capture_output=True, text=True, timeout=30,
                            env={"PATH": os.environ["PATH"], "COLUMNS": "200"})
    assert "visible to every local user in the process list (ps)" in helped.stdout
    assert "--ari-password-file FILE" in helped.stdout


def test_a_database_error_line_names_the_host_without_any_secret() -> None:
    async def refused() -> None:
        async with errors.database(
                "postgresql://router:p@ss?w0rd@db:5432/hr?sslpassword=k@y&sslmode=require"):
            raise ConnectionRefusedError(111, "Connection refused")

    with pytest.raises(errors.CliError) as failed:
        asyncio.run(refused())
    message = str(failed.value)
    assert "cannot connect to the database at db:5432/hr (Connection refused)" in message
    for leaked in ("p@ss", "w0rd", "k@y", "y&"):
        assert leaked not in message


def test_a_database_url_in_any_log_line_is_masked(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("json", "info")
    try:
        log = structlog.get_logger("test")
        url = "postgresql://router:pw123@db/hr?sslpassword=keypass7"
        try:
            raise ValueError(f"invalid DSN: {url}")
        except ValueError:
            log.exception("could not connect", dsn=url)
    finally:
        structlog.reset_defaults()  # other tests see structlog as they found it
    line = capsys.readouterr().err
    assert "pw123" not in line
    assert "keypass7" not in line
    assert json.loads(line)["dsn"] == "postgresql://router:***@db/hr?sslpassword=***"
    assert "invalid DSN: postgresql://router:***@db/hr" in line


def test_history_keep_months_is_a_whole_number_from_file_or_environment(tmp_path: Path) -> None:
    assert settings.load(None, {}).settings.history_keep_months == 0  # kept forever
    file = write(tmp_path / "router.toml", "history_keep_months = 24\n")
    assert settings.load(file, {}).settings.history_keep_months == 24
    assert settings.load(file, {"HISTORY_KEEP_MONTHS": "13"}).settings.history_keep_months == 13
