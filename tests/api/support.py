"""A real FunctionsBackend over SQLite and a list queue, with the dataspace view and plan
stood in (those belong to the service layer)."""

from __future__ import annotations

from types import SimpleNamespace

from mvd_core.api.backend import FunctionsBackend
from mvd_core.api.models import DataspaceView
from mvd_core.dataspace import load


class StandInDurableClient:
    def __init__(self, custom_status=None) -> None:
        self.custom_status = custom_status

    async def get_status(self, instance_id: str):
        return SimpleNamespace(runtime_status="Running", custom_status=self.custom_status)


class TestBackend(FunctionsBackend):
    __test__ = False

    async def dataspace_view(self) -> DataspaceView:
        return DataspaceView(name=self.dataspace.name, display_name=None, targets="embedded",
                             reset_schedule=self.dataspace.schedule.reset, participants=[])

    async def plan(self) -> dict:
        return {"dataspace": self.dataspace.name, "targets": "embedded", "participants": {}}


def make_backend(registry, queue, custom_status=None) -> TestBackend:
    return TestBackend(StandInDurableClient(custom_status), registry, queue, load())
