"""Commands for personal data: erasing a member (PIPL Art. 47) and recording a read of
one person's clear data (Art. 54)."""

from __future__ import annotations

import re
from uuid import UUID

from domain.commands.base import CommandBase, CommandResult, Handler, Meta, Outcome, command
from domain.data_access import PersonalDataAccess
from domain.errors import MemberErasedError, NamesTheSubjectError
from domain.member import Member
from domain.personal_data import ERASED

MIN_PHONE_SEARCHED = 7
"""A shorter phone is not searched for in a text (a request number would match it)."""


class PrivacyCommands(CommandBase):
    def erase_member(self, meta: Meta, member_id: UUID | str, *, legal_basis: str) -> CommandResult:
        """Record `Member.Erased`, then shred the member's data key: from then on every
        sealed field of theirs (in their own events and in the tickets they reported)
        reads as erased, and the stored events, their Merkle leaves and every proof stay
        exactly as they were. Erasing an erased member shreds the key again (finishing
        an erasure whose shredding failed) and is refused (MemberErasedError)."""

        def handle() -> Outcome:
            member: Member = self.member(member_id)
            if member.erased:
                self._shred(member)
                raise MemberErasedError(f"member {member.id} has already been erased")
            self._refuse_naming(member, legal_basis, "the legal basis")
            member.erase(legal_basis)
            return Outcome(member)

        # Not a @command: the key is shredded after the save. Its arguments by hand.
        args = {"member_id": member_id, "legal_basis": legal_basis}
        result = self._execute(meta, "erase_member", args, handle)
        self._shred(self.member(result.id))
        return result

    def _refuse_naming(self, member: Member, text: str, what: str) -> None:
        """Refuse `text` (kept in clear in the log for good) if it holds the member's
        name or phone (its digits, however spaced): the log could never erase them."""
        if not isinstance(text, str):
            return
        name, phone = member.name, member.phone
        if self.personal is not None:
            name = self.personal.reveal(name, member.id, "name")
            phone = self.personal.reveal(phone, member.id, "phone")
        digits = re.sub(r"\D", "", text)
        named = isinstance(name, str) and len(name) > 1 and name != ERASED and name in text
        phone = phone.lstrip("+") if isinstance(phone, str) and phone != ERASED else ""
        called = len(phone) >= MIN_PHONE_SEARCHED and phone in digits
        if named or called:
            raise NamesTheSubjectError(
                f"{what} is kept in clear for good: it must not hold the person's name or phone"
            )

    def _shred(self, member: Member) -> None:
        kid = member.data_key
        if kid is not None and self.personal is not None:
            self.personal.shred(kid, member.id)

    @command
    def record_personal_data_read(
        self, meta: Meta, member_id: UUID | str, *, reason: str, fields: list[str]
    ) -> Handler:
        """Record that the actor reads `fields` of a member's clear data, and why."""

        def handle() -> Outcome:
            member: Member = self.member(member_id)
            self._refuse_naming(member, reason, "the reason")
            read = PersonalDataAccess.record(subject_id=member.id, reason=reason, fields=fields)
            return Outcome(read)

        return handle
