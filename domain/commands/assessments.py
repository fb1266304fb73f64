"""Commands for assessment policies (考核口径): weights, k, minimum cases, star rules."""

from __future__ import annotations

from typing import Any

from domain.assessment_policy import AssessmentPolicy
from domain.commands.base import CommandBase, Handler, Meta, Outcome, command


class AssessmentCommands(CommandBase):
    @command
    def put_assessment_policy(
        self, meta: Meta, jurisdiction: str, terms: dict[str, Any]
    ) -> Handler:
        """Publish a new version of a jurisdiction's assessment policy (identical: nothing
        new); answers `policy_version`."""

        def handle() -> Outcome:
            self.jurisdiction(jurisdiction)
            policy = self._find(AssessmentPolicy, AssessmentPolicy.id_for(jurisdiction))
            policy = policy or AssessmentPolicy(jurisdiction=jurisdiction)
            version = policy.put(terms)
            return Outcome(policy, extra={"policy_version": version})

        return handle
