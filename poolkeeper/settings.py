"""Loading poolkeeper's configuration the way every entry point does (Functions host, local host, CLI).

``POOLKEEPER_CONFIG`` holds the bindings and scopes; ``POOLKEEPER_ARM_ENDPOINT`` (an app setting the Bicep sets,
and what the demo points at armsim) overrides the configuration's ``armEndpoint``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from poolkeeper.config import Config, load_config, load_config_from_env

ARM_ENDPOINT_VAR = "POOLKEEPER_ARM_ENDPOINT"


def with_env_overrides(config: Config, environ: Mapping[str, str] | None = None) -> Config:
    env = os.environ if environ is None else environ
    endpoint = env.get(ARM_ENDPOINT_VAR, "").strip()
    if endpoint:
        return dataclasses.replace(config, arm_endpoint=endpoint.rstrip("/"))
    return config


def load_settings(source: str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """The configuration from ``source`` (path or inline JSON) or ``POOLKEEPER_CONFIG``, with env overrides."""
    config = load_config(source) if source else load_config_from_env(environ)
    return with_env_overrides(config, environ)
