"""Where commands go after a run is claimed: the storage queue on Azure, a callback locally."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError

from mvd_core.commands.models import Command
from mvd_core.errors import ExternalError, MvdError


@runtime_checkable
class CommandQueue(Protocol):
    def enqueue(self, command: Command) -> None: ...


class AzureStorageCommandQueue:
    """The ``mvd-commands`` storage queue. Messages are base64 of the JSON, which is what the
    Functions queue trigger decodes by default (host.json ``messageEncoding: base64``)."""

    def __init__(
        self,
        connection_string: str | None = None,
        queue_name: str = "mvd-commands",
        *,
        account_url: str | None = None,
        credential: Any = None,
    ) -> None:
        """From a connection string (Azurite, development), or an account URL and a token
        credential (Azure: the app's managed identity)."""
        # imported here: the local host never needs the storage SDK, and it is slow to import
        from azure.storage.queue import (
            BinaryBase64DecodePolicy,
            BinaryBase64EncodePolicy,
            QueueClient,
        )

        encode, decode = BinaryBase64EncodePolicy(), BinaryBase64DecodePolicy()
        try:
            if connection_string is not None:
                self.client = QueueClient.from_connection_string(
                    connection_string, queue_name, message_encode_policy=encode, message_decode_policy=decode
                )
            elif account_url is not None:
                self.client = QueueClient(
                    account_url,
                    queue_name,
                    credential=credential,
                    message_encode_policy=encode,
                    message_decode_policy=decode,
                )
            else:
                raise MvdError("the command queue needs a storage connection string or account")
        except (ValueError, AzureError):
            raise MvdError("the storage connection string for the command queue is malformed") from None
        self.queue_name = queue_name
        self._created = False

    def _ensure(self) -> None:
        if self._created:
            return
        try:
            self.client.create_queue()
        except ResourceExistsError:
            pass
        except HttpResponseError as exc:
            if exc.status_code != 403:
                raise ExternalError(f"queue {self.queue_name!r}: cannot create it ({exc.status_code})") from None
            # An identity allowed to send but not to create: the Functions host creates the
            # queue for its trigger; sending says clearly if it is really missing.
        except AzureError as exc:
            raise ExternalError(f"queue {self.queue_name!r}: cannot create it ({type(exc).__name__})") from None
        self._created = True

    def enqueue(self, command: Command) -> None:
        self._ensure()
        body = command.model_dump_json(by_alias=True).encode("utf-8")
        try:
            self.client.send_message(body)
        except AzureError as exc:
            raise ExternalError(f"queue {self.queue_name!r}: cannot enqueue command ({type(exc).__name__})") from None


class CallbackCommandQueue:
    """Local host: "enqueue" hands the command to a function (e.g. start the engine)."""

    def __init__(self, fn: Callable[[Command], None]) -> None:
        self.fn = fn

    def enqueue(self, command: Command) -> None:
        self.fn(command)
