"""Settings: precedence, origins, home discovery, bad values; env read only in config.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from loopml.config import find_home, load_settings
from loopml.errors import InvalidInput

SRC = Path(__file__).resolve().parents[1] / "src" / "loopml"


def test_defaults_derive_from_home(tmp_path: Path) -> None:
    settings = load_settings({"home": tmp_path}, environ={})
    assert settings.store_uri == f"sqlite:///{tmp_path / 'loopml.db'}"
    assert settings.blob_uri == (tmp_path / "blobs").as_uri()
    assert settings.tracking_uri is None and not settings.is_remote
    assert settings.server_host == "127.0.0.1"


def test_flag_beats_env_beats_file_beats_default(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[loopml]\nstore_uri = "sqlite:///file.db"\nblob_uri = "file:///from-file"\n'
        "tracking_flush_interval = 5\n"
    )
    env = {
        "LOOPML_HOME": str(tmp_path),
        "LOOPML_STORE_URI": "sqlite:///env.db",
        "LOOPML_TRACKING_FLUSH_INTERVAL": "2",
    }
    settings = load_settings({"store_uri": "sqlite:///flag.db"}, environ=env)
    assert settings.store_uri == "sqlite:///flag.db"
    assert settings.blob_uri == "file:///from-file"
    assert settings.tracking_flush_interval == 2.0
    origins = {name: origin for name, _, origin in settings.describe()}
    assert origins["store_uri"] == "flag"
    assert origins["tracking_flush_interval"] == "env"
    assert origins["blob_uri"] == "file"
    assert origins["server_port"] == "default"


def test_home_is_found_by_walking_up(tmp_path: Path) -> None:
    (tmp_path / ".loopml").mkdir()
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_home(deep) == tmp_path / ".loopml"
    assert load_settings(environ={}, cwd=deep).home == tmp_path / ".loopml"


def test_home_falls_back_to_the_user_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    lonely = tmp_path / "nowhere"
    lonely.mkdir()
    assert find_home(lonely) == tmp_path / "user" / ".loopml"


def test_secret_token_is_masked(tmp_path: Path) -> None:
    settings = load_settings({"home": tmp_path, "tracking_token": "s3cret"}, environ={})
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in str(settings.describe())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tracking_uri": "ftp://x"}, "tracking_uri"),
        ({"tracking_flush_interval": "-1"}, "tracking_flush_interval"),
        ({"server_port": "99999"}, "server_port"),
        ({"server_port": "eighty"}, "server_port"),
    ],
    ids=["tracking-scheme", "negative-interval", "port-range", "port-text"],
)
def test_bad_values_name_the_setting(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        load_settings({"home": tmp_path, **overrides}, environ={})


def test_bad_config_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[loopml]\nstore_ur = 'typo'\n")
    with pytest.raises(InvalidInput, match="store_ur"):
        load_settings({"home": tmp_path}, environ={})
    (tmp_path / "config.toml").write_text("not toml = = =")
    with pytest.raises(InvalidInput, match=r"config\.toml"):
        load_settings({"home": tmp_path}, environ={})


def test_environment_is_read_only_in_config() -> None:
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if path.name != "config.py"
        and re.search(r"os\.environ|os\.getenv|getenv\(", path.read_text())
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"server_port": 80.5}, "server_port: expected a whole number"),
        ({"server_port": True}, "server_port: expected a whole number"),
        ({"http_timeout": "nan"}, "http_timeout: expected a number"),
        ({"tracking_flush_interval": 4000}, "tracking_flush_interval: must be at most 3600"),
        ({"store_uri": 5}, "store_uri: expected text"),
        ({"colour": "blue"}, r"Unknown setting\(s\) \['colour'\]"),
    ],
    ids=["fraction", "bool", "nan", "too-long", "not-text", "unknown"],
)
def test_more_bad_values_are_refused(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        load_settings({"home": tmp_path, **overrides}, environ={})


def test_values_from_text_are_typed(tmp_path: Path) -> None:
    settings = load_settings(
        {"home": tmp_path},
        environ={
            "LOOPML_SERVER_PORT": " 9000 ",
            "LOOPML_HTTP_TIMEOUT": "2.5",
            "LOOPML_TRACKING_TOKEN": "t",
        },
    )
    assert (settings.server_port, settings.http_timeout) == (9000, 2.5)
    assert settings.tracking_token is not None
    assert settings.tracking_token.get_secret_value() == "t"
    assert settings.origins["server_port"] == "env"


def test_loading_settings_imports_no_validation_library() -> None:
    import subprocess
    import sys

    code = "import sys, loopml.config as c; c.load_settings(); print('pydantic' in sys.modules)"
    assert subprocess.check_output([sys.executable, "-c", code], text=True).strip() == "False"
