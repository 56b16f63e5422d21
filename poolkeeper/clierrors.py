"""One line that says what to do, for each failure an operator commonly meets (issue 14).

The CLI prints ``poolkeeper: <line>`` and exits non-zero instead of a 100-line traceback; ``--debug`` shows the
traceback. :func:`explain` is pure (an exception and the environment in, a sentence out) so it is unit-tested
without Azure; :func:`preflight` checks, before any Azure call, that the ARM and identity endpoints answer at all,
so a stopped armsim is reported in about a second rather than after the SDK's retries.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

from poolkeeper.clients import DEFAULT_ARM_ENDPOINT
from poolkeeper.settings import Settings

ARMSIM_HINT = ("against armsim: start `python -m armsim serve --scenario tutorial --env-file armsim.env` and run "
               "`. ./armsim.env` in this shell")
CONNECT_TIMEOUT = 3.0  # seconds; a TCP connect to a live endpoint takes milliseconds


class CliError(Exception):
    """A failure already phrased for the operator; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def arm_endpoint(environ: Mapping[str, str] | None = None) -> str:
    return Settings.from_env(environ).arm_endpoint or DEFAULT_ARM_ENDPOINT


def _reachable(url: str, timeout: float) -> str | None:
    """None when a TCP connection to the URL's host and port opens; else why not."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except TimeoutError:
        return f"no answer within {timeout:.0f} s"
    except OSError as err:
        return err.strerror or str(err)


def preflight(environ: Mapping[str, str] | None = None, *, timeout: float = CONNECT_TIMEOUT) -> None:
    """Fail fast, in one line, when the ARM endpoint (or the managed-identity endpoint it relies on) is down."""
    settings = Settings.from_env(environ)
    endpoint = settings.arm_endpoint or DEFAULT_ARM_ENDPOINT
    local = endpoint != DEFAULT_ARM_ENDPOINT
    identity = settings.identity_endpoint
    if identity:
        why = _reachable(identity, timeout)
        if why:
            raise CliError(f"the managed-identity endpoint {identity} does not answer ({why}): is armsim still "
                           f"running? Restart it and re-source its env file ({ARMSIM_HINT})")
    why = _reachable(endpoint, timeout)
    if why:
        hint = (f"is armsim running? ({ARMSIM_HINT}); or unset POOLKEEPER_ARM_ENDPOINT to use Azure"
                if local else "check your network or proxy")
        raise CliError(f"cannot reach ARM at {endpoint} ({why}): {hint}")


def _chain(err: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = err
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__ or getattr(cur, "inner_exception", None)
    return seen


def explain(err: BaseException, environ: Mapping[str, str] | None = None) -> str | None:
    """The one-line explanation of a known failure, or None for an unexpected one."""
    settings = Settings.from_env(environ)
    chain = _chain(err)
    names = {type(e).__name__ for e in chain}
    text = " ".join(str(e) for e in chain)
    endpoint = settings.arm_endpoint or DEFAULT_ARM_ENDPOINT
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain) or "CERTIFICATE_VERIFY_FAILED" in text:
        bundle = settings.ca_bundle or "(not set)"
        return (f"the TLS certificate of {endpoint} is not trusted with REQUESTS_CA_BUNDLE={bundle}: point "
                f"REQUESTS_CA_BUNDLE at armsim's ca_bundle (its env file sets it), or unset it for Azure")
    if "Could not find a suitable TLS CA certificate bundle" in text:  # requests' message for a missing file
        return (f"REQUESTS_CA_BUNDLE={settings.ca_bundle or None} does not exist: re-source armsim's env file "
                "(armsim writes a new CA when it starts without --state-dir)")
    if "CredentialUnavailableError" in names or "DefaultAzureCredential failed to retrieve a token" in text:
        return ("no Azure credential available: against Azure run `az login`; " + ARMSIM_HINT
                + " (it sets IDENTITY_ENDPOINT, IDENTITY_HEADER and AZURE_CLIENT_ID)")
    if "ClientAuthenticationError" in names:
        return f"Azure refused the credential: {str(err).splitlines()[0]}"
    if "ServiceRequestError" in names or "ServiceResponseError" in names or isinstance(err, ConnectionError):
        return f"lost the connection to ARM at {endpoint}: is armsim (or your network) still up? {ARMSIM_HINT}"
    if "HttpResponseError" in names or "ResourceNotFoundError" in names:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        return f"ARM answered with an error: {first}"
    return None
