"""A Prefect automation that POSTs each `sop.plan.*` event to a subscriber's webhook.

The subscriber (a procurement system) gets one JSON document per event, as soon as the
server has the event; it never polls the store. The URL and any headers (a token) live in a
Prefect Webhook block, stored as secrets; the automation only names the block.
"""

from collections.abc import Mapping, Sequence
from typing import cast
from uuid import UUID

from flows.events import FAILED, PUBLISHED

DEFAULT_NAME = "sop-plan-events"
# Rendered by the server with the triggering event (Jinja, as every Prefect action template).
# `payload` is the event's own payload (flows/events.py): cycle, plan_version, rows, …
PAYLOAD_TEMPLATE = """{
  "event": {{ event.event | tojson }},
  "id": "{{ event.id }}",
  "occurred": "{{ event.occurred }}",
  "resource": {{ event.resource.id | tojson }},
  "payload": {{ event.payload | tojson }}
}"""


def register_plan_webhook(
    url: str,
    name: str = DEFAULT_NAME,
    headers: Mapping[str, str] | None = None,
    events: Sequence[str] = (PUBLISHED, FAILED),
) -> UUID:
    """Save the Webhook block `name` for `url` (with `headers`, e.g. an Authorization token)
    and create the automation `name` calling it on each of `events`; returns its id.

    Registering again under the same name replaces both, so the URL can be changed."""
    from prefect.automations import Automation, CallWebhook, EventTrigger
    from prefect.blocks.webhook import Webhook
    from prefect.types import SecretDict

    block = Webhook(method="POST", url=url,
                    headers=SecretDict({"Content-Type": "application/json", **(headers or {})}))
    block_id = block.save(name, overwrite=True)
    automation = Automation(
        name=name,
        description="POST the S&OP plan events to a subscriber (flows/automations.py)",
        trigger=EventTrigger(
            expect=set(events),
            match={"prefect.resource.id": "sop.plan.*"},
            posture="Reactive",
            threshold=1,
        ),
        actions=[CallWebhook(block_document_id=block_id, payload=PAYLOAD_TEMPLATE)],
    )
    remove_plan_webhook(name)
    # Called from sync code, create returns the automation (typed as maybe a coroutine).
    created = cast(Automation, automation.create())
    if created.id is None:
        raise RuntimeError(f"the server did not return an id for automation {name!r}")
    return created.id


def remove_plan_webhook(name: str = DEFAULT_NAME) -> bool:
    """Delete the automation `name` if there is one (its block stays); True when deleted."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        found = client.read_automations_by_name(name)
        for automation in found:
            client.delete_automation(automation.id)
    return bool(found)
