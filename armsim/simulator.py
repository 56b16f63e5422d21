"""Running armsim: in-process for tests (``Simulator``) or as a server process (``python -m armsim serve``)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import tempfile
import threading
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from armsim import control, tls
from armsim.app import build_app
from armsim.config import SimConfig
from armsim.engine import Engine
from armsim.identity import IdentityService

DEFAULT_SUBSCRIPTION = "6fb867d5-d552-4dbe-9f6a-7a151b6292aa"
DEFAULT_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"

# Resource-provider packages. Each exposes ``install(runtime)``; a package that is not there yet is skipped.
PLUGINS = ("armsim.network", "armsim.compute", "armsim.eventgrid", "armsim.resources")


@dataclass(frozen=True)
class ConnectionInfo:
    arm_endpoint: str
    ca_bundle: str
    subscription_id: str
    tenant_id: str
    identity_endpoint: str
    identity_header: str
    control_endpoint: str

    def env(self) -> dict[str, str]:
        """Environment that points azure-identity, requests and the az CLI at this simulator."""
        return {
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": self.identity_header,
            "REQUESTS_CA_BUNDLE": self.ca_bundle,
            "SSL_CERT_FILE": self.ca_bundle,
            "AZURE_SUBSCRIPTION_ID": self.subscription_id,
            "AZURE_TENANT_ID": self.tenant_id,
            "POOLKEEPER_ARM_ENDPOINT": self.arm_endpoint,
        }


class Runtime:
    """Everything one running simulator holds; plugins receive it in ``install``."""

    def __init__(self, config: SimConfig, state_dir: Path, subscription_id: str, tenant_id: str) -> None:
        self.config = config
        self.state_dir = state_dir
        self.engine = Engine(config, subscription_id, tenant_id)
        secrets_file = state_dir / "identity.json"
        if secrets_file.exists():
            saved = json.loads(secrets_file.read_text())
            self.identity = IdentityService(tenant_id, subscription_id, saved["secret"], saved["header"])
        else:
            self.identity = IdentityService(tenant_id, subscription_id)
            secrets_file.write_text(json.dumps({"secret": self.identity.secret, "header": self.identity.header}))
            secrets_file.chmod(0o600)
        self.engine.token_verifier = self.identity.verify
        self.control_routes: dict[tuple[str, str], Callable[[web.Request], Awaitable[web.StreamResponse]]] = {}
        self.background: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self.base_url = ""
        self.plugins: list[Any] = []
        control.register_core(self)

    def control(
        self, method: str, name: str
    ) -> Callable[[Callable[[web.Request], Awaitable[web.StreamResponse]]], Any]:
        def deco(fn: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
            self.control_routes[(method, name)] = fn
            return fn

        return deco

    def cloud_metadata(self) -> list[dict[str, Any]]:
        base = self.base_url
        return [
            {
                "name": "LocalSim",
                "portal": base,
                "resourceManager": base,
                "authentication": {
                    "loginEndpoint": base,
                    "audiences": [base, "https://management.core.windows.net/", "https://management.azure.com/"],
                    "tenant": "common",
                    "identityProvider": "AAD",
                },
                "graphAudience": base,
                "graph": base,
                "microsoftGraphResourceId": base,
                "media": base,
                "gallery": base,
                "batch": base,
                "sqlManagement": base,
                "vmImageAliasDoc": base,
                "activeDirectoryDataLake": base,
                "logAnalyticsResourceId": base,
                "appInsightsResourceId": base,
                "appInsightsTelemetryChannelResourceId": base,
                "synapseAnalyticsResourceId": base,
                "attestationResourceId": base,
                "suffixes": {
                    "acrLoginServer": "azurecr.io",
                    "keyVaultDns": "vault.azure.net",
                    "sqlServerHostname": "database.windows.net",
                    "storage": "core.windows.net",
                    "storageSyncEndpointSuffix": "afs.azure.net",
                    "mhsmDns": "managedhsm.azure.net",
                    "mysqlServerEndpoint": "mysql.database.azure.com",
                    "postgresqlServerEndpoint": "postgres.database.azure.com",
                    "mariadbServerEndpoint": "mariadb.database.azure.com",
                    "synapseAnalytics": "dev.azuresynapse.net",
                    "attestationEndpoint": "attest.azure.net",
                },
            }
        ]


class Simulator:
    """armsim in a background thread of this process: ``with Simulator(scenario="tutorial") as sim: ...``."""

    def __init__(
        self,
        *,
        scenario: str = "empty",
        time_scale: float = 1.0,
        throttle: bool = True,
        state_dir: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        subscription_id: str = DEFAULT_SUBSCRIPTION,
        tenant_id: str = DEFAULT_TENANT,
        config: SimConfig | None = None,
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="armsim-")
            state_dir = self._tmp.name
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.config = config or SimConfig(time_scale=time_scale, throttle=throttle)
        self.scenario = scenario
        self.host = host
        self.port = port
        self.rt = Runtime(self.config, self.state_dir, subscription_id, tenant_id)
        self.info: ConnectionInfo | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def engine(self) -> Engine:
        return self.rt.engine

    # --- lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> ConnectionInfo:
        self._thread = threading.Thread(target=self._run, name="armsim", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=60)
        if self._error is not None:
            raise RuntimeError(f"armsim failed to start: {self._error}") from self._error
        assert self.info is not None
        return self.info

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the simulator's event loop (where the engine lives) and return its result."""
        assert self._loop is not None

        async def runner() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(runner(), self._loop).result(timeout=60)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as err:  # reported to the starting thread
            self._error = err
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        rt = self.rt
        ca = tls.load_or_create_ca(self.state_dir)
        ca_path = self.state_dir / "ca.pem"
        ssl_ctx = tls.server_context(ca, ["127.0.0.1", "localhost", "::1"])
        for name in PLUGINS:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as err:
                if err.name != name:
                    raise
                continue
            module.install(rt)
            rt.plugins.append(module)
        state_file = self.state_dir / "state.json"
        restored = False
        if state_file.exists():
            rt.engine.store.load(state_file)
            restored = True
        runner = web.AppRunner(build_app(rt), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, ssl_context=ssl_ctx, backlog=1024)
        await site.start()
        sock = site._server.sockets[0]  # type: ignore[union-attr]
        port = sock.getsockname()[1]
        host = self.host if ":" not in self.host else f"[{self.host}]"
        base = f"https://{host}:{port}/"
        rt.base_url = base
        rt.engine.base_url = base
        if not restored:
            from armsim.scenarios import build_scenario

            build_scenario(self.scenario, rt.engine)
            rt.engine.reset_log()
        dirty = asyncio.Event()
        rt.engine.on_change = dirty.set
        self.info = ConnectionInfo(
            arm_endpoint=base,
            ca_bundle=str(ca_path),
            subscription_id=rt.engine.subscription_id,
            tenant_id=rt.engine.tenant_id,
            identity_endpoint=f"{base}msi/token",
            identity_header=rt.identity.header,
            control_endpoint=f"{base}_sim/",
        )
        tasks = [asyncio.create_task(self._ticker())]
        tasks += [asyncio.create_task(job()) for job in rt.background]
        if self.state_dir and self._tmp is None:
            tasks.append(asyncio.create_task(self._saver(dirty, state_file)))
        self._ready.set()
        await self._stop.wait()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self._tmp is None:
            rt.engine.store.save(state_file)
        await runner.cleanup()

    async def _ticker(self) -> None:
        engine = self.rt.engine
        while True:
            engine.tick()
            await asyncio.sleep(0.01)

    async def _saver(self, dirty: asyncio.Event, state_file: Path) -> None:
        while True:
            await dirty.wait()
            dirty.clear()
            self.rt.engine.store.save(state_file)
            await asyncio.sleep(0.5)


def new_subscription_id() -> str:
    return str(uuid.uuid4())
