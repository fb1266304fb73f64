"""Commands for activities (活动) and their attendance (签到/签退)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.activity import Activity
from domain.commands.base import Handler, Meta, Outcome, command
from domain.commands.points import PointsCommands

ATTENDANCE = "activity_attendance"


class ActivityCommands(PointsCommands):
    @command
    def schedule_activity(
        self,
        meta: Meta,
        *,
        title: str,
        jurisdiction: str,
        starts_at: datetime,
        ends_at: datetime,
        points_rule: str | None = None,
    ) -> Handler:
        """Schedule an activity in a community or grid; its points rule, if named, must be a
        rule of that community's rulebook in force with the activity_attendance trigger."""

        def handle() -> Outcome:
            community = self.community_of(jurisdiction)
            activity = Activity.schedule(
                title=title,
                jurisdiction=jurisdiction,
                community=community,
                starts_at=starts_at,
                ends_at=ends_at,
                points_rule=points_rule,
            )
            if activity.points_rule is not None:
                self.require_rule(community, activity.points_rule, ATTENDANCE)
            return Outcome(activity, extra={"status": activity.status})

        return handle

    @command
    def check_in(
        self, meta: Meta, activity_id: UUID, *, member_id: UUID, at: datetime | None = None
    ) -> Handler:
        """Check a member in to a scheduled activity (签到)."""

        def handle() -> Outcome:
            activity = self.activity(activity_id)
            member = self.member(member_id)
            activity.check_in(member.id, at)
            return Outcome(activity)

        return handle

    @command
    def check_out(
        self, meta: Meta, activity_id: UUID, *, member_id: UUID, at: datetime | None = None
    ) -> Handler:
        """Check a member out of a scheduled activity (签退); answers the `hours` earned."""

        def handle() -> Outcome:
            activity = self.activity(activity_id)
            member = self.member(member_id)
            hours = activity.check_out(member.id, at)
            return Outcome(activity, extra={"hours": hours})

        return handle

    @command
    def close_activity(self, meta: Meta, activity_id: UUID) -> Handler:
        """Close a started activity and, in the same transaction, award its points rule to
        every attendee who completed it. Answers `attendees`, `completed` and `awarded`."""

        def handle() -> Outcome:
            activity = self.activity(activity_id)
            activity.close()
            awards: list[Aggregate] = []
            awarded = 0
            completed = activity.completed_members()
            if activity.points_rule is not None:
                rules = self._automatic_rules(ATTENDANCE, activity.community, activity.points_rule)
                for member_id in completed:
                    earned = self._award_automatically(
                        rules, activity.community, member_id, "activity", str(activity.id)
                    )
                    awarded += bool(earned)
                    awards.extend(earned)
            extra = {
                "status": activity.status,
                "attendees": len(activity.attendance),
                "completed": len(completed),
                "awarded": awarded,
            }
            return Outcome(activity, others=awards, extra=extra)

        return handle

    @command
    def cancel_activity(self, meta: Meta, activity_id: UUID, *, reason: str) -> Handler:
        """Cancel a scheduled activity that nobody has checked in to, saying why."""

        def handle() -> Outcome:
            activity = self.activity(activity_id)
            activity.cancel(reason)
            return Outcome(activity, extra={"status": activity.status})

        return handle

    def activity(self, activity_id: UUID | str) -> Activity:
        """The activity with `activity_id`, or NotFoundError."""
        return self._get(Activity, activity_id, "Activity")
