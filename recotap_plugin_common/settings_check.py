"""Both plugins' check of their settings, at start-up, before any request.

singer-sdk 0.54 checks a config against the plugin's JSON schema, but it
- ignores keys it does not know, so a typo (`dryrun`, `domians`) silently becomes a default;
- does not check formats, so a `start_date` of "2024-13-45" fails mid-sync in a traceback;
- quotes the rejected value in its message, a secret one too (`987654321 is not of type
  'string' in config['api_key']`);
- reads numbers from environment variables as strings (so does Meltano for a setting whose kind
  is `string`: its `decimal` kind cannot come from an environment variable in Meltano 4.4.1).

`SettingsCheck` replaces those messages with ours: every problem named by its setting, the
closest valid name for an unknown key, and never the value of a secret setting (nor of an
unknown key, which may be a misspelt secret). The known keys are the plugin's config schema
after the SDK appended its built-in settings (stream maps, flattening, batch size, ...).
"""

from __future__ import annotations

import contextlib
import difflib
import math
from typing import TYPE_CHECKING, Any

from jsonschema.validators import validator_for
from singer_sdk.exceptions import ConfigValidationError

from recotap_client.paging import parse_timestamp
from recotap_client.settings import (
    DEFAULT_API_URL,
    InsecureAPIURLError,
    InvalidAPIKeyError,
    check_api_url,
    clean_api_key,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, MutableMapping

    from jsonschema import ValidationError
    from singer_sdk.plugin_base import PluginBase

    _Plugin = PluginBase
else:
    _Plugin = object

DATE_TIME_EXAMPLE = "2024-01-31T00:00:00Z (or a date, 2024-01-31)"


def coerce_numeric_strings(config: MutableMapping[str, Any], schema: Mapping[str, Any]) -> None:
    """Turn "30" or "0.5" into numbers for the numeric settings, in place.

    Environment variables are strings: the SDK's `--config ENV` passes a number setting on as
    one, and so does Meltano for the `string` kind that these settings use in meltano.yml.
    A string that is not a number is left alone, for the schema check to name.
    """
    for name, value in config.items():
        types = _types(schema.get("properties", {}).get(name, {}))
        if not isinstance(value, str) or not types & {"number", "integer"}:
            continue
        number = _as_number(value.strip(), integer_only="number" not in types)
        if number is not None:
            config[name] = number


def settings_problems(config: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Every problem with `config`, one sentence each, no secret or unknown value quoted."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    problems = [_unknown(key, properties) for key in config if key not in properties]
    validator = validator_for(schema)(schema)
    problems += [_describe(error, properties) for error in validator.iter_errors(dict(config))]
    problems += list(_date_time_problems(config, properties))
    api_url = config.get("api_url", DEFAULT_API_URL)
    if isinstance(api_url, str):
        try:
            check_api_url(api_url)
        except InsecureAPIURLError as error:
            problems.append(str(error))
    api_key = config.get("api_key")
    if isinstance(api_key, str):  # another type is described above, without its value
        try:
            clean_api_key(api_key)
        except InvalidAPIKeyError as error:
            problems.append(str(error))
    return problems


class SettingsCheck(_Plugin):
    """Mixin for tap-recotap and target-recotap: `settings_problems` at start-up.

    It overrides `PluginBase._validate_config`, the one SDK-private name recotap_plugin_common
    uses: singer-sdk 0.54 has no public hook for a plugin's own config check (meltano/sdk#1309
    asked for one, `validate_config`; closed unimplemented), and this is the only step that
    runs after the config files and environment variables are merged and before the plugin does
    anything else (the tap's discovery already sends the API key). Replace it with that hook
    once the SDK has one; `tests/test_sdk_private_pins.py` fails when the SDK changes the step.

    Numbers that arrive as strings are checked as numbers here; the config keeps them as they
    came (the SDK's config is read-only) and the client reads them with `int()` / `float()`.
    """

    def __init__(self, *, config: Any = None, **options: Any) -> None:
        if isinstance(config, dict):
            # A copy: the SDK fills its defaults into the dict it is given, so a dict given to
            # the tap and then to the target would carry the tap's settings along. Numbers from
            # a config file written by hand may be strings too.
            config = dict(config)
            coerce_numeric_strings(config, self.known_settings())
        super().__init__(config=config, **options)

    @classmethod
    def known_settings(cls) -> dict[str, Any]:
        """The plugin's config schema with the SDK's built-in settings (stream maps, ...)."""
        schema = cls.config_jsonschema
        cls.append_builtin_config(schema)
        return schema

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # The SDK's own pass fills in defaults (in place), which the plugins rely on; its
        # messages are replaced by ours, which never quote a secret.
        with contextlib.suppress(ConfigValidationError):
            super()._validate_config(raise_errors=True)
        schema = self.known_settings()
        config = dict(self.config)
        coerce_numeric_strings(config, schema)  # e.g. "12.5" from an environment variable
        problems = settings_problems(config, schema)
        if problems and raise_errors:
            raise ConfigValidationError(
                f"{self.name}: invalid settings (nothing was sent)", errors=problems
            )
        for problem in problems:
            self.logger.warning("Config validation: %s", problem)
        return problems


def _types(property_schema: Mapping[str, Any]) -> set[str]:
    types = property_schema.get("type", [])
    found = {types} if isinstance(types, str) else set(types)
    for option in property_schema.get("anyOf", []) + property_schema.get("oneOf", []):
        found |= _types(option)
    return found


def _as_number(text: str, *, integer_only: bool) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    if integer_only:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _unknown(key: str, properties: Mapping[str, Any]) -> str:
    # The key only, never its value: it may be a misspelt secret (`api_ky`).
    close = difflib.get_close_matches(key, list(properties), n=1, cutoff=0.6)
    if close:
        return f"`{key}` is not a setting: did you mean `{close[0]}`?"
    return f"`{key}` is not a setting. Settings: {', '.join(sorted(properties))}."


def _describe(error: ValidationError, properties: Mapping[str, Any]) -> str:
    if not error.path:
        if error.validator == "required":  # names the setting only
            return str(error.message)
        # About the whole config: its message would quote every value, secrets included.
        return f"the settings do not match the plugin's schema ({error.validator})"
    name = str(error.path[0])
    if _is_secret(properties.get(name, {})):
        rule = f"{error.validator}: {error.validator_value!r}"
        return f"`{name}` is invalid ({rule}); its value is not shown because it is secret."
    # The SDK's own form for everything else (`... in config['page_size']`).
    return f"{error.message} in config{''.join(f'[{part!r}]' for part in error.path)}"


def _is_secret(property_schema: Mapping[str, Any]) -> bool:
    return bool(property_schema.get("secret") or property_schema.get("writeOnly"))


def _date_time_problems(config: Mapping[str, Any], properties: Mapping[str, Any]) -> Iterator[str]:
    for name, property_schema in properties.items():
        value = config.get(name)
        if property_schema.get("format") != "date-time" or not isinstance(value, str):
            continue
        try:
            parse_timestamp(value)
        except ValueError:
            expected = f"an ISO 8601 date-time such as {DATE_TIME_EXAMPLE}"
            yield f"`{name}` must be {expected}; got {value!r}."
