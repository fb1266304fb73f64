"""A read of one person's clear personal data, itself recorded (PIPL Art. 54: who read
whose data, when and why). One aggregate per read; `GET /v1/audit/personal-data-reads`
lists them."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from domain.base import GovernedAggregate
from domain.errors import PersonalDataReasonError

REASON_LENGTH = range(5, 501)


class PersonalDataAccess(GovernedAggregate):
    @classmethod
    def record(cls, *, subject_id: UUID, reason: str, fields: list[str]) -> PersonalDataAccess:
        """A read of `fields` of `subject_id`, for `reason` (5 to 500 characters)."""
        reason = reason.strip() if isinstance(reason, str) else ""
        if len(reason) not in REASON_LENGTH:
            raise PersonalDataReasonError(
                "clear personal data is read only for a stated reason of 5 to 500 characters"
            )
        return cls(subject_id=subject_id, reason=reason, fields=list(fields))

    @event("PersonalDataRead")
    def __init__(self, subject_id: UUID, reason: str, fields: list[str]) -> None:
        self.subject_id = subject_id
        self.reason = reason
        self.fields = fields
