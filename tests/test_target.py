import pytest

from kimi_lab.common.errors import KimiConfigError
from kimi_lab.settings.config import KimiLab
from kimi_lab.settings.providers import PRESETS, Price
from kimi_lab.settings.target import resolve_target


def test_option_beats_config_beats_env():
    cfg = KimiLab(provider="openrouter", model="cfg-model")
    env = {"KIMI_LAB_PROVIDER": "tera", "KIMI_LAB_MODEL": "env-model", "OPENROUTER_API_KEY": "k" * 20,
           "TERA_API_KEY": "t" * 20, "MOONSHOT_API_KEY": "m" * 20}
    t = resolve_target(provider="moonshot", model="opt-model", config=cfg, env=env)
    assert (t.provider.name, t.model, t.api_key, t.key_source) == ("moonshot", "opt-model", "m" * 20,
                                                                    "MOONSHOT_API_KEY")
    t = resolve_target(config=cfg, env=env)
    assert (t.provider.name, t.model) == ("openrouter", "cfg-model")
    t = resolve_target(config=KimiLab(), env=env)
    assert (t.provider.name, t.model) == ("tera", "env-model")


def test_first_preset_with_a_key_is_chosen():
    t = resolve_target(config=KimiLab(), env={"HAIMAKER_API_KEY": "h" * 20})
    assert t.provider.name == "haimaker" and t.base_url == "https://api.haimaker.ai/v1"


def test_no_setup_lists_every_preset():
    with pytest.raises(KimiConfigError) as err:
        resolve_target(config=KimiLab(), env={})
    for preset in PRESETS.values():
        if preset.key_env:
            assert preset.key_env in err.value.message


def test_missing_key_names_variable_and_preset():
    with pytest.raises(KimiConfigError, match="no API key for openrouter: set OPENROUTER_API_KEY"):
        resolve_target(provider="openrouter", config=KimiLab(), env={})


def test_base_url_alone_means_custom_and_needs_no_key():
    t = resolve_target(base_url="http://127.0.0.1:8000/v1/", config=KimiLab(), env={})
    assert (t.provider.name, t.base_url, t.api_key) == ("custom", "http://127.0.0.1:8000/v1", None)


def test_llmapi_without_url_says_what_to_do():
    with pytest.raises(KimiConfigError, match="--base-url"):
        resolve_target(provider="llmapi", config=KimiLab(), env={"LLMAPI_API_KEY": "x" * 20})


def test_config_presets_override_and_add():
    cfg = KimiLab(presets={
        "moonshot": {"base_url": "https://api.moonshot.cn/v1"},
        "mine": {"base_url": "http://127.0.0.1:9/v1", "price": [1, 2, 0.5], "dialect": "reasoning"},
    })
    t = resolve_target(provider="moonshot", config=cfg, env={"MOONSHOT_API_KEY": "m" * 20})
    assert t.base_url == "https://api.moonshot.cn/v1"
    t = resolve_target(provider="mine", config=cfg, env={})
    assert t.provider.price == Price(1, 2, 0.5) and t.api_key is None


def test_bad_preset_field_is_named():
    with pytest.raises(KimiConfigError, match="unknown field"):
        resolve_target(provider="x", config=KimiLab(presets={"x": {"url": "http://a"}}), env={})


def test_cached_tokens_cost_at_cache_price():
    price = PRESETS["moonshot"].price_of("kimi-k2-thinking")
    # 1M prompt tokens of which 400k cached, 100k completion
    assert price.cost(1_000_000, 100_000, 400_000) == pytest.approx(0.6 * 0.6 + 0.4 * 0.15 + 0.1 * 2.5)


def test_moonshot_prices_each_model_it_may_pick():
    """kimi-k2.6 (its default since Moonshot retired K2 Thinking) and K3 cost what kimi-protocol.md §8 says."""
    moonshot = PRESETS["moonshot"]
    assert moonshot.model == "kimi-k2.6" and moonshot.price_of("kimi-k2.6") == Price(0.95, 4.00, 0.16)
    assert moonshot.price_of("kimi-k3") == Price(3.00, 15.00, 0.30)


def test_tera_caps_output():
    assert PRESETS["tera"].max_output == 4_096


def test_a_password_in_the_base_url_is_masked_and_scrubbed_like_the_key():
    t = resolve_target(base_url="http://app:pw-5566778899@10.0.0.5:8000/v1?api_key=q1w2e3r4t5", config=KimiLab(),
                       env={})
    assert t.label == "custom (http://app:***@10.0.0.5:8000/v1?api_key=***)"
    assert t.shown_url == "http://app:***@10.0.0.5:8000/v1?api_key=***"
    assert set(t.secrets) == {"pw-5566778899", "q1w2e3r4t5"}
    assert t.base_url.startswith("http://app:pw-5566778899@"), "the request itself still uses the real URL"
