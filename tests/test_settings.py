"""Settings: one variable per field, named after it; bad values refused by name; secrets never printed."""

from __future__ import annotations

import pytest

from hub.errors import ConfigError
from hub.settings import Secret, Settings


def test_each_group_reads_its_variables_by_field_name() -> None:
    settings = Settings.from_env(
        {
            "HUB_REDIS_URL": "redis://127.0.0.1:1/0",
            "HUB_WEBHOOK_MAX_IN_FLIGHT": "7",
            "HUB_WEBHOOK_RETRY_SCHEDULE_S": "1, 2.5",
            "HUB_LIVE_SHOW_PHONES": "yes",
            "HUB_ALL24_POLL_INTERVAL_S": "42",
            "HUB_ALCLIENT_TRACKING_PATH": "/t/{order_id}",
        }
    )
    assert settings.webhook.max_in_flight == 7
    assert settings.webhook.retry_schedule_s == (1.0, 2.5)
    assert settings.live.show_phones is True
    assert settings.poll.provider("all24").interval_s == 42
    assert settings.poll.alclient_tracking_path == "/t/{order_id}"
    assert settings.queue_redis_url == "redis://127.0.0.1:1/0"  # defaults to HUB_REDIS_URL


def test_an_empty_tile_url_means_no_tiles_while_other_empty_values_keep_the_default() -> None:
    settings = Settings.from_env({"HUB_LIVE_TILE_URL": "", "HUB_LIVE_QUEUE_MAX": ""})
    assert settings.live.tile_url == ""
    assert settings.live.queue_max == 256


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HUB_WEBHOOK_MAX_IN_FLIGHT", "many"),
        ("HUB_LIVE_SHOW_PHONES", "perhaps"),
        ("HUB_POLL_TICK_S", "1s"),
        ("HUB_NORMALIZER_LINGER_MS", "-1"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({variable: value})


def test_secrets_never_show_in_repr_str_or_format() -> None:
    settings = Settings.from_env(
        {
            "HUB_ADMIN_TOKEN": "admin-s3cret",
            "HUB_METRICS_TOKEN": "metrics-s3cret",
            "HUB_WEBHOOK_MASTER_KEYS": "fernet-s3cret",
            "HUB_LIVE_PUSHER_SECRET": "pusher-s3cret",
            "HUB_ALOPEYK_TOKEN": "jwt-s3cret",
            "HUB_ALCLIENT_PASSWORD": "password-s3cret",
        }
    )
    shown = repr(settings) + str(settings) + f"{settings}"
    assert "s3cret" not in shown
    assert settings.admin_token is not None and settings.admin_token.reveal() == "admin-s3cret"
    assert settings.provider("alclient").credentials["password"] == "password-s3cret"


def test_a_secret_matches_only_its_own_value() -> None:
    secret = Secret("abc")
    assert secret.matches("abc")
    assert not secret.matches("abd") and not secret.matches("") and not secret.matches("abc\u00e9")


def test_replace_takes_a_group_field_by_its_variable_name() -> None:
    settings = Settings().replace(webhook_allow_http=True, live_queue_max=9, receive_inline=True)
    assert (settings.webhook.allow_http, settings.live.queue_max, settings.receive_inline) == (True, 9, True)
