"""costledger.toml: what it configures, where it is found, and errors that name file, line and key."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from costledger import ConfigError, Ledger
from costledger.config import Config, find_config, load_config, parse_config

FULL = """\
[[prices]]
service = "anthropic"
model = "claude-sonnet-4-20250514"
since = 2026-03-01
input_per_mtok = "2.70"
output_per_mtok = "13.50"
source = "negotiated"

[[prices]]
service = "docparse"
model = "v1"
since = "2026-01-01"
rates = { pdf_pages = { usd = "0.01", per = 1 } }

[aliases]
"claude-sonnet" = "anthropic:claude-sonnet-4-20250514"

[[fixed_costs]]
name = "agent server"
vendor = "railway"
monthly_usd = "20"
since = 2026-02-01

[[plans]]
name = "creator"
price_usd = "29"
period = "month"
included_sessions = 100

[[session_types]]
mode = "combined"
agents = 15
estimate_usd = ["1.00", "1.65"]
"""


def test_every_section_is_read() -> None:
    config = parse_config(FULL, Path("costledger.toml"))
    negotiated, docparse = config.prices
    assert negotiated.kind == "override" and negotiated.since == dt.date(2026, 3, 1)
    assert negotiated.rates["input_tokens"].usd == Decimal("2.70")
    assert docparse.since == dt.date(2026, 1, 1) and docparse.rates["pdf_pages"].usd == Decimal("0.01")
    assert config.aliases == {"claude-sonnet": "anthropic:claude-sonnet-4-20250514"}
    assert config.fixed_costs[0].monthly_usd == Decimal("20")
    assert config.plans[0].price_usd == Decimal("29") and config.plans[0].tier == "creator"
    assert config.session_types[0].estimate_usd == (Decimal("1.00"), Decimal("1.65"))


def test_a_ledger_prices_with_its_config(tmp_path: Path) -> None:
    path = tmp_path / "costledger.toml"
    path.write_text(FULL, encoding="utf-8")
    with Ledger(tmp_path / "l.db", config=path) as ledger:
        result = ledger.record_many(
            [
                {"ts": "2026-03-02T00:00:00Z", "service": "anthropic", "model": "claude-sonnet",
                 "usage": {"input_tokens": 1_000_000}},
                {"ts": "2026-03-02T00:00:00Z", "service": "docparse", "model": "v1", "usage": {"pdf_pages": 7}},
            ]
        )  # fmt: skip
    assert result.unpriced == 0
    assert result.cost_usd == Decimal("2.70") + Decimal("0.07")


def test_the_config_is_found_through_the_environment_then_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_config() == Config()  # nothing anywhere: defaults
    (tmp_path / "costledger.toml").write_text('[aliases]\n"here" = "openai:gpt-4o"\n', encoding="utf-8")
    assert load_config().aliases == {"here": "openai:gpt-4o"}
    elsewhere = tmp_path / "other.toml"
    elsewhere.write_text('[aliases]\n"env" = "openai:gpt-4o"\n', encoding="utf-8")
    monkeypatch.setenv("COSTLEDGER_CONFIG", str(elsewhere))
    assert load_config().aliases == {"env": "openai:gpt-4o"}
    assert load_config(tmp_path / "costledger.toml").aliases == {"here": "openai:gpt-4o"}  # explicit wins


PRICE = '[[prices]]\nservice = "anthropic"\nmodel = "x"\nsince = 2026-01-01\n'


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ('[[prices]]\nservice = "anthropic"\nmodel = "x"\nsince = "soon"\ninput_per_mtok = "1"\n',
         ":4: prices[0].since", "expected a date"),
        (PRICE + 'input_per_mtok = "cheap"\n', ":5: prices[0].input_per_mtok", "not a number: 'cheap'"),
        (PRICE + 'input_per_mtok = "1"\ncolour = "red"\n', ":6: prices[0].colour", "unknown key"),
        ('[[prices]]\nservice = "a"\ninput_per_mtok = "1"\n', ":1: prices[0].since", "is required"),
        (PRICE + 'input_per_mtok = "1"\n\n[[prices]]\nservice = "b"\nsince = 2026-01-01\noutput_per_mtok = "-1"\n',
         ":10: prices[1].output_per_mtok", "non-negative"),
        (PRICE + "rates = { pdf_pages = { usd = \"0.01\", per = 0 } }\n", ":5: prices[0].rates.pdf_pages.per",
         "positive whole number"),
        (PRICE, ":1: prices[0].rates", "at least one meter"),
        ("[pricez]\nx = 1\n", ":1: pricez", "unknown section"),
        ("[aliases]\nfoo = 3\n", ":1: aliases", '"name" = "service:model"'),
        ('\n[[plans]]\nname = "creator"\nprice_usd = "abc"\n', ":4: plans[0].price_usd", "not a number"),
        ('[[session_types]]\nmode = "m"\nestimate_usd = ["2", "1"]\n', ":3: session_types[0].estimate_usd",
         "low is above high"),
        ('[[fixed_costs]]\nname = "db"\nmonthly_usd = "5"\nsince = "june"\n', ":4: fixed_costs[0].since",
         "expected a date"),
    ],
)  # fmt: skip
def test_errors_name_the_file_line_and_key(text: str, where: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, Path("/etc/costledger/costledger.toml"))
    message = str(caught.value)
    assert message.startswith("/etc/costledger/costledger.toml" + where + ": "), message
    assert words in message


def test_a_toml_syntax_error_names_file_and_line() -> None:
    with pytest.raises(ConfigError, match=r"^team\.toml: .*line 3"):
        parse_config('[aliases]\n"a" = "openai:gpt-4o"\nb = \n', Path("team.toml"))


def test_an_unreadable_config_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read"):
        load_config(tmp_path / "missing.toml")


def test_a_ledger_refuses_a_bad_config_before_opening_anything(tmp_path: Path) -> None:
    path = tmp_path / "costledger.toml"
    path.write_text(PRICE + 'input_per_mtok = "cheap"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"costledger.toml:5: prices\[0\].input_per_mtok"):
        Ledger(tmp_path / "l.db", config=path)
    assert not (tmp_path / "l.db").exists()


# -- which ledger: `database = "…"`, found from the working directory upwards -----------------------


def test_database_is_read_relative_to_the_config_file(tmp_path: Path) -> None:
    config = parse_config('database = "data/ledger.db"\n\n[aliases]\n', tmp_path / "costledger.toml")
    assert config.database == str(tmp_path / "data" / "ledger.db")
    url = "postgresql://app@db/costledger"
    assert parse_config(f'database = "{url}"\n', tmp_path / "costledger.toml").database == url
    assert parse_config(f'database = "{tmp_path}/abs.db"\n', Path("x.toml")).database == f"{tmp_path}/abs.db"
    assert parse_config("[aliases]\n", tmp_path / "c.toml").database is None


@pytest.mark.parametrize("value", ["3", '""', "[]", "true"])
def test_a_database_that_is_not_a_path_or_url_is_refused_with_its_line(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^c\.toml:2: database: expected a SQLite path or a postgresql:// URL"):
        parse_config(f"# a comment\ndatabase = {value}\n", Path("c.toml"))


def test_the_config_is_found_from_the_working_directory_upwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "costledger.toml").write_text('database = "ledger.db"\n', encoding="utf-8")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_config() == tmp_path / "costledger.toml"
    assert load_config().database == str(tmp_path / "ledger.db")  # the same ledger from any directory below
    (tmp_path / "a" / "costledger.toml").write_text("[aliases]\n", encoding="utf-8")
    assert find_config() == tmp_path / "a" / "costledger.toml"  # the nearest wins
    assert find_config(tmp_path) == tmp_path / "costledger.toml"


def test_a_ledger_opens_the_database_its_config_names_unless_told_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COSTLEDGER_DB")
    (tmp_path / "costledger.toml").write_text('database = "named.db"\n', encoding="utf-8")
    sub = tmp_path / "sub"
    sub.mkdir()
    monkeypatch.chdir(sub)
    with Ledger() as ledger:
        ledger.record("deepgram", "nova-3", audio_seconds=60)
        assert ledger.location.source == "config" and ledger.location.target == str(tmp_path / "named.db")
    assert (tmp_path / "named.db").is_file()
    with Ledger(tmp_path / "given.db") as given:  # a target given wins over the config
        assert given.report([]) == [] and given.location.source == "given"
    monkeypatch.setenv("COSTLEDGER_DB", str(tmp_path / "env.db"))  # and so does the environment
    with Ledger() as from_env:
        assert from_env.location.why() == "from $COSTLEDGER_DB"
    monkeypatch.delenv("COSTLEDGER_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))
    with Ledger(config=Config()) as default:  # nothing names a ledger: the user data directory
        assert default.location.target == str(tmp_path / "data-home" / "costledger" / "ledger.db")
