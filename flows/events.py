"""Prefect events a procurement system can subscribe to instead of polling the store.

`sop.plan.published` when a version becomes visible, `sop.plan.failed` when a monthly run
stops. The resource is the plan (`sop.plan.CYCLE`), so an automation can match one cycle or all.
"""

from typing import Any

from prefect.events import emit_event

PUBLISHED = "sop.plan.published"
FAILED = "sop.plan.failed"


def _resource(cycle: str) -> dict[str, str]:
    return {"prefect.resource.id": f"sop.plan.{cycle}", "prefect.resource.name": f"plan {cycle}",
            "sop.cycle": cycle}


def plan_published(
    cycle: str, version: int, rows: int, folder: str, store: str, changed_rows: int
) -> None:
    """Say a version is readable (folder, CURRENT and store agree by now)."""
    emit_event(event=PUBLISHED, resource={**_resource(cycle), "sop.version": str(version)},
               payload={"cycle": cycle, "plan_version": version, "rows": rows,
                        "folder": folder, "store": store, "changed_rows": changed_rows})


def plan_failed(cycle: str, stage: str, error: BaseException) -> None:
    """Say a monthly run stopped, at which stage and why (nothing was published)."""
    payload: dict[str, Any] = {"cycle": cycle, "stage": stage,
                               "error": f"{type(error).__name__}: {error}"[:2000]}
    emit_event(event=FAILED, resource=_resource(cycle), payload=payload)
