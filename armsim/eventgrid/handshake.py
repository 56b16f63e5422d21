"""Event Grid's endpoint validation, run before an event subscription starts delivering.

Azure refuses a webhook subscription whose endpoint does not prove it wants the events: Event Grid schema endpoints
must echo the validation code (``{"validationResponse": code}`` with 200), CloudEvents endpoints must allow the
origin in the OPTIONS abuse-protection handshake. Simulating it catches a local host that would be refused in Azure.
An endpoint that answers 2xx without the code gets Azure's manual validation: the subscription waits
(``AwaitingManualAction``) until someone GETs the ``validationUrl`` from the validation event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import aiohttp

from armsim.eventgrid import schema


@dataclass
class Outcome:
    ok: bool
    manual: bool = False  # 2xx without the code: wait for a GET of validationUrl
    detail: str = ""  # what failed, for the error message


async def validate_eventgrid(
    session: aiohttp.ClientSession, url: str, name: str, topic: str, code: str, validation_url: str, now: str,
    timeout: float,
) -> Outcome:
    body = json.dumps(schema.validation_event(topic, code, validation_url, now)).encode()
    try:
        async with session.post(url, data=body, headers=schema.validation_headers(name),
                                timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            text = await resp.text()
            status = resp.status
    except (TimeoutError, aiohttp.ClientError, OSError) as err:
        return Outcome(False, detail=f"Http POST request failed with response code Unknown ({type(err).__name__}).")
    if status != 200:
        return Outcome(False, detail=f"Http POST request failed with response code {status}.")
    try:
        answer = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        answer = {}
    got = answer.get("validationResponse") if isinstance(answer, dict) else None
    if got == code:
        return Outcome(True)
    if got is None:
        return Outcome(False, manual=True, detail="Http POST request returned 200 without a validationResponse.")
    return Outcome(False, detail=f"Http POST request returned validationResponse '{got}', not the validation code.")


async def validate_cloudevents(session: aiohttp.ClientSession, url: str, timeout: float) -> Outcome:
    headers = {"WebHook-Request-Origin": schema.WEBHOOK_ORIGIN, "WebHook-Request-Rate": "120"}
    try:
        async with session.options(url, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            await resp.read()
            status, allowed = resp.status, resp.headers.get("WebHook-Allowed-Origin", "")
    except (TimeoutError, aiohttp.ClientError, OSError) as err:
        return Outcome(False, detail=f"Http OPTIONS request failed with response code Unknown ({type(err).__name__}).")
    if status != 200:
        return Outcome(False, detail=f"Http OPTIONS request failed with response code {status}.")
    if allowed.strip() not in ("*", schema.WEBHOOK_ORIGIN):
        return Outcome(False, detail=f"Http OPTIONS response did not allow origin '{schema.WEBHOOK_ORIGIN}' "
                                     f"(WebHook-Allowed-Origin: '{allowed}').")
    return Outcome(True)
