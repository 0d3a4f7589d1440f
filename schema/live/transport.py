"""graphql-transport-ws for the live hub: Strawberry's handler, with a `fileUpdates`
subscription held by the hub rather than by a task.

Strawberry runs each operation in a task of its own until its stream ends. A subscription the
live hub serves (schema/live/hub.py) needs that task only while its current state is read and
sent: then its resolver hands it over (`hold`) and returns, and the operation stays
registered (its id taken, counted against the connection's limit) without a task until the
client completes it or leaves. A task per idle subscription, its generators and execution
context were about 8 KiB each (docs/live-connection-cost.md).
"""

import contextlib

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    _OperationStreamClosed as OperationStreamClosed,
)
from strawberry.utils.aio import aclosing

from . import hub
from .subscriber import Subscriber


class TransportWSHandler(BaseGraphQLTransportWSHandler):
    """Strawberry's graphql-transport-ws handler, telling the resolver its operation (for
    the id to send under, and the document its class is keyed on). A `fileUpdates`
    subscription the hub serves needs no task once its current state has gone out: its
    resolver hands it over (`held`) and returns, and its operation stays registered, without
    a task, until the client completes it or leaves (docs/live-connection-cost.md)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.held: dict = {}  # operation -> the Subscriber the hub serves it by

    def hold(self, operation, subscriber: Subscriber) -> None:
        self.held[operation] = subscriber

    async def run_operation(self, operation) -> None:
        """Strawberry's, but an operation handed to the hub is not completed when its
        stream ends."""
        hub.current_operation.set(operation)
        try:
            source = await self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=self.context,
                root_value=self.root_value,
                operation_name=operation.operation_name,
            )
            async with aclosing(source):
                await self._send_result_stream(operation, source)
            if operation in self.held:
                operation.task = None  # the task ends; the hub holds the subscription
                return
            if self.operations.get(operation.id) is not operation:
                return  # the client completed it meanwhile (or left)
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except OperationStreamClosed:
            return
        except Exception as error:
            await self.handle_task_exception(error)
            with contextlib.suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
            raise

    async def cleanup_operation(self, operation_id: str) -> None:
        operation = self.operations.get(operation_id)
        if operation is None:
            return
        subscriber = self.held.pop(operation, None)
        if operation.task is not None:
            await super().cleanup_operation(operation_id)  # cancels its task
        else:
            del self.operations[operation_id]
        if subscriber is not None:
            await hub.get().remove(subscriber)
