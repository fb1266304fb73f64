"""Commands for the jurisdiction tree."""

from __future__ import annotations

from domain.commands.base import CommandBase, Handler, Meta, Outcome, command
from domain.errors import (
    InvalidValueError,
    JurisdictionCodeTakenError,
    JurisdictionKindError,
    NotFoundError,
    WrongJurisdictionKindError,
)
from domain.jurisdiction import PARENT_KIND, Jurisdiction, Kind


class JurisdictionCommands(CommandBase):
    @command
    def define_jurisdiction(
        self, meta: Meta, *, code: str, kind: str, name: str, parent: str | None
    ) -> Handler:
        """Define a district, street, community or grid under its parent."""

        def handle() -> Outcome:
            node_kind = _kind(kind)
            if not code.strip() or not name.strip():
                raise InvalidValueError("code and name must not be blank")
            if self._find(Jurisdiction, Jurisdiction.id_for(code)) is not None:
                raise JurisdictionCodeTakenError(code)
            expected = PARENT_KIND[node_kind]
            if expected is None:
                if parent is not None:
                    raise JurisdictionKindError(f"a {node_kind} has no parent")
                path = [code]
            else:
                if parent is None:
                    raise JurisdictionKindError(f"a {node_kind} needs a parent {expected}")
                above = self.jurisdiction(parent)
                if above.kind != expected:
                    raise JurisdictionKindError(
                        f"a {node_kind} sits under a {expected}, not a {above.kind} ({parent})"
                    )
                path = [*above.path, code]
            node = Jurisdiction(
                code=code,
                kind=node_kind.value,
                name=name,
                parent=parent,
                path=path,
            )
            return Outcome(node)

        return handle

    def jurisdiction(self, code: str) -> Jurisdiction:
        """The jurisdiction with `code`, or NotFoundError."""
        try:
            return self._get(Jurisdiction, Jurisdiction.id_for(code), "Jurisdiction")
        except NotFoundError:
            raise NotFoundError("Jurisdiction", code) from None

    def community_of(self, code: str) -> str:
        """The community a community or grid code belongs to."""
        node = self.jurisdiction(code)
        community = node.community()
        if community is None:
            raise WrongJurisdictionKindError(
                f"{code} is a {node.kind}; a community or grid is needed",
            )
        return community

    def require_kind(self, code: str, *kinds: Kind) -> Jurisdiction:
        node = self.jurisdiction(code)
        if node.kind not in kinds:
            wanted = " or ".join(k.value for k in kinds)
            raise WrongJurisdictionKindError(f"{code} is a {node.kind}; a {wanted} is needed")
        return node


def _kind(kind: str) -> Kind:
    try:
        return Kind(kind)
    except ValueError:
        raise InvalidValueError(
            f"kind must be one of {', '.join(k.value for k in Kind)}, not {kind!r}"
        ) from None
