"""Organisation (驻区单位): an employer or institution that reports in to communities.

It reports in to a community with its three lists (需求清单、资源清单、项目清单): what it
needs, what it can offer, and the projects it will run there. It may report in to
several communities, never twice to the same one.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from eventsourcing.domain import event

from domain.base import GovernedAggregate
from domain.errors import AlreadyReportedInError, MemberValueError


class Organisation(GovernedAggregate):
    if TYPE_CHECKING:  # the event classes @event makes below (fields: its arguments)
        Registered: ClassVar[type[Any]]
        ReportedIn: ClassVar[type[Any]]

    @classmethod
    def register(cls, *, name: str) -> Organisation:
        if not isinstance(name, str) or not name.strip():
            raise MemberValueError(
                "an organisation's name must not be blank", rule="organisation.name"
            )
        return cls(name=name.strip())

    @event("Registered")
    def __init__(self, name: str) -> None:
        self.name = name
        self.report_ins: list[dict[str, Any]] = []

    def report_in(
        self, community: str, needs: list[str], resources: list[str], projects: list[str]
    ) -> None:
        """Report in to `community` (a community code) with needs, resources and projects."""
        if self.has_reported_in(community):
            raise AlreadyReportedInError("organisation", community)
        self._reported_in(
            community=community,
            needs=_items(needs, "needs"),
            resources=_items(resources, "resources"),
            projects=_items(projects, "projects"),
        )

    def has_reported_in(self, community: str) -> bool:
        return any(r["community"] == community for r in self.report_ins)

    @event("ReportedIn")
    def _reported_in(
        self,
        community: str,
        needs: list[str],
        resources: list[str],
        projects: list[str],
        timestamp: datetime | None = None,
    ) -> None:
        self.report_ins.append(
            {
                "community": community,
                "needs": needs,
                "resources": resources,
                "projects": projects,
                "reported_at": timestamp,
            }
        )


def _items(values: list[str], field: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise MemberValueError(
            f"{field} must be a list of non-blank texts", rule="organisation.lists"
        )
    return [v.strip() for v in values]
