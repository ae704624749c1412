"""The secret-NAME and secret-VALUE rules: what is hidden, and what ordinary data stays visible."""

from __future__ import annotations

import pytest

from kimi_lab.common.secrets import credentials_in, looks_secret, looks_secret_value, mask_url, mask_urls

HIDDEN_NAMES = [
    "api_key", "OPENAI_API_KEY", "openai_key", "openaiApiKey", "private_key", "AZURE_OPENAI_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "DB_PASS", "db_pass", "PGPASSWORD",
    "db_password", "db_pwd", "MYSQL_PWD", "Authorization", "auth", "auth_header", "bearer", "cookie", "cookies",
    "session_id", "SESSIONID", "hf_token", "GITHUB_TOKEN", "JUPYTER_TOKEN", "token", "access_token",
    "refresh_token", "csrf_token", "my_token", "client_secret", "secret_key", "credentials", "creds", "jwt",
    "passphrase", "license_key", "ssh_key", "x_api_key", "api_key_b64", "oauth_token",
]
VISIBLE_NAMES = [
    # data columns and ordinary variables: hiding them would blind the model to the user's work
    "keys", "key", "key_col", "keys_df", "monkey", "hotkey", "keyboard", "primary_key", "primary_key_cols",
    "public_key", "sort_key", "group_key", "tokens", "n_tokens", "max_tokens", "token_count", "token_ids",
    "token_type", "pad_token", "eos_token", "tokenizer", "passenger", "pass_rate", "bypass", "compass", "author",
    "authority", "authors", "secretary", "session", "pwd", "credit_card",
    # a URL is data unless it carries a password, which the value rule catches
    "DATABASE_URL", "PG_DSN", "MONGO_URI",
]


@pytest.mark.parametrize("name", HIDDEN_NAMES)
def test_secret_looking_names_are_hidden(name: str) -> None:
    assert looks_secret(name)


@pytest.mark.parametrize("name", VISIBLE_NAMES)
def test_ordinary_names_stay_visible(name: str) -> None:
    assert not looks_secret(name)


CREDENTIAL_VALUES = [
    "postgres://app:hunter2@db.internal:5432/sales",
    "see https://user:p%40ss@example.com/x for access",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----\n",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA",  # cut off: still a key
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
    "Bearer 7f9c2ba4e88f827d616045507605853e",
    "Basic dXNlcjpodW50ZXIy",  # base64 of user:hunter2
    "sk-proj-4fQ7x9LmN2pR8sT1vW3yZ5aB6cD0eF",
    "sk-or-v1-" + "0123456789abcdef" * 4,
    "ghp_" + "a1B2c3D4e5" * 4,
    "github_pat_" + "11ABCDEFG0" * 5,
    "AKIAIOSFODNN7EXAMPLE",
    "xoxb-123456789012-abcdefghijkl",
    "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
    "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "{'user': 'bob', 'password': 'hunter2'}",
    'DB_PASS=s3cr3t!x',
    "https://api.example.com/v1?api_key=abcd1234efgh",
]
ORDINARY_VALUES = [
    "https://api.moonshot.ai/v1",
    "write to alice@example.com or see https://example.com/a@b",
    "sk-learn-compatible-estimator",
    "Basic statistics of Bearer authentication and token counts",
    "the tokenizer splits keys into tokens",
    "client = OpenAI(api_key=os.environ['MOONSHOT_API_KEY'])",
    "def login(user: str, password: str) -> None: ...",
    "hf_dataset_name_for_training_version_two",
    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
    "region,units\nnorth,12\nsouth,7",
]


@pytest.mark.parametrize("value", CREDENTIAL_VALUES)
def test_credential_shaped_values_look_secret(value: str) -> None:
    assert looks_secret_value(value, secrets=[])
    assert credentials_in(value), "the credential part is found, so it can be scrubbed in every encoding"


@pytest.mark.parametrize("value", ORDINARY_VALUES)
def test_ordinary_values_do_not(value: str) -> None:
    assert not looks_secret_value(value, secrets=[])


def test_a_value_containing_a_known_secret_looks_secret_in_any_case() -> None:
    known = ["zq-custom-9x8y7w6v5u4t3s2r"]
    assert looks_secret_value("config: ZQ-CUSTOM-9X8Y7W6V5U4T3S2R, retries 3", known)
    assert not looks_secret_value("config: retries 3", known)


def test_a_huge_string_is_judged_by_its_ends_quickly() -> None:
    import time

    big = "x " * 5_000_000 + "sk-proj-4fQ7x9LmN2pR8sT1vW3yZ5aB6cD0eF"
    t0 = time.perf_counter()
    assert looks_secret_value(big, [])
    assert time.perf_counter() - t0 < 0.5


def test_mask_url_hides_the_password_and_secret_query_values() -> None:
    assert mask_url("https://user:pw@host/v1") == "https://user:***@host/v1"
    assert mask_url("http://bob:hunter2@10.0.0.5:8000/v1?api_key=abc&x=1") == (
        "http://bob:***@10.0.0.5:8000/v1?api_key=***&x=1")
    for plain in ("https://api.moonshot.ai/v1", "http://token@host/v1", "http://127.0.0.1:8000/v1?model=k2"):
        assert mask_url(plain) == plain
    line = "cannot reach https://u:pw@h/v1 (refused); retry"
    assert mask_urls(line) == "cannot reach https://u:***@h/v1 (refused); retry"


def test_known_secrets_include_credentials_inside_any_environment_value() -> None:
    from kimi_lab.common.secrets import secret_values

    env = {"MOONSHOT_API_KEY": "sk-moon-0123456789", "DATABASE_URL": "postgres://app:pw-5566778899@db/sales",
           "HOME": "/home/user", "TOKENIZERS_PARALLELISM": "false", "MY_SETTING": "abc"}
    assert set(secret_values(env, extra_names=["MY_SETTING"], extra_values=["extra-value-123"])) == {
        "sk-moon-0123456789", "pw-5566778899", "extra-value-123"}  # MY_SETTING's "abc" is too short to scrub
