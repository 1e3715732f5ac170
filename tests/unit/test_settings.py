from __future__ import annotations

from router import settings


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
