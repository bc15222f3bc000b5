"""The real Backend over SQLite and a list queue, with the Durable client stood in and the
dataspace view and plan stood in (those read clusters and resolve DIDs)."""

from __future__ import annotations

from types import SimpleNamespace

from blueprints._runtime import DurableOrchestrations
from mvd_core.api.backend import Backend
from mvd_core.api.models import DataspaceView
from mvd_core.dataspace import load


class StandInDurableClient:
    def __init__(self, custom_status=None) -> None:
        self.custom_status = custom_status

    async def get_status(self, instance_id: str):
        return SimpleNamespace(runtime_status="Running", custom_status=self.custom_status)


class TestBackend(Backend):
    __test__ = False

    def __init__(self, client: StandInDurableClient, registry, queue) -> None:
        dataspace = load()
        super().__init__(dataspace, registry, DurableOrchestrations(client), lambda: dataspace.schedule.reset,
                         queue=queue)
        self.client = client

    async def dataspace_view(self) -> DataspaceView:
        return DataspaceView(name=self.dataspace.name, display_name=None, targets="embedded",
                             reset_schedule=self.dataspace.schedule.reset, participants=[])

    async def plan(self) -> dict:
        return {"dataspace": self.dataspace.name, "targets": "embedded", "participants": {}}


def make_backend(registry, queue, custom_status=None) -> TestBackend:
    return TestBackend(StandInDurableClient(custom_status), registry, queue)
