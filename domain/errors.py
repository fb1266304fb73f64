"""Every error the domain raises, in one hierarchy.

    DomainError                      anything the domain refuses; records nothing
    ├── NotFoundError                an id or code names nothing          (HTTP 404)
    ├── InvalidValueError            a value the domain cannot accept     (HTTP 422)
    ├── IdempotencyKeyReusedError    same key, different command          (HTTP 422)
    ├── RuleViolationError           a rule of the domain refuses         (HTTP 409)
    │   └── InvalidTransitionError   the current status forbids the action
    ├── ConcurrencyConflictError     retries exhausted on a stale save    (HTTP 409)
    └── NoActorError                 a command ran outside `acting(...)` (a bug)

Each error carries `rule`: a stable dotted code naming the rule that refused the
command (`ticket.transition`, `points.self_award`, ...), and a message saying why.
Specific errors below subclass one of these; each module's section is marked.
"""

from __future__ import annotations


class DomainError(Exception):
    """Raised when the domain refuses a command; nothing is recorded."""

    rule: str = "domain"

    def __init__(self, message: str, *, rule: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if rule is not None:
            self.rule = rule


class NotFoundError(DomainError):
    """Raised when an id or code names nothing that exists."""

    rule = "not_found"

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key} does not exist", rule=f"{kind.lower()}.exists")
        self.kind = kind
        self.key = key


class InvalidValueError(DomainError):
    """Raised when a command carries a value the domain cannot accept."""

    rule = "value"


class IdempotencyKeyReusedError(DomainError):
    """Raised when an idempotency key is reused for a different command or body."""

    rule = "idempotency.same_body"

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} was already used for a different request")


class RuleViolationError(DomainError):
    """Raised when a rule of the domain refuses the command."""

    rule = "rule"


class InvalidTransitionError(RuleViolationError):
    """Raised when an aggregate's current status does not allow the action."""

    def __init__(self, kind: str, action: str, status: str) -> None:
        super().__init__(
            f"cannot {action} a {kind} that is {status}",
            rule=f"{kind}.transition",
        )
        self.action = action
        self.status = status


class ConcurrencyConflictError(DomainError):
    """Raised when a command keeps meeting concurrent changes and gives up."""

    rule = "concurrency"


class NoActorError(DomainError):
    """Raised when an aggregate triggers an event outside an `acting(...)` context."""

    rule = "actor.required"

    def __init__(self) -> None:
        super().__init__("events can only be recorded on behalf of an actor")


# --- jurisdictions, members, organisations ---


class JurisdictionCodeTakenError(RuleViolationError):
    """Raised when a jurisdiction code is defined a second time."""

    rule = "jurisdiction.code_unique"

    def __init__(self, code: str) -> None:
        super().__init__(f"jurisdiction code {code!r} is already defined")


class JurisdictionKindError(RuleViolationError):
    """Raised when a jurisdiction's kind does not sit directly under its parent's kind."""

    rule = "jurisdiction.kind_under_parent"


class WrongJurisdictionKindError(RuleViolationError):
    """Raised when a command names a jurisdiction of the wrong kind (a grid for a community)."""

    rule = "jurisdiction.kind"


class MemberValueError(InvalidValueError):
    """Raised when a member, organisation or role command carries a blank text or unknown choice."""

    rule = "member.value"


class InvalidPhoneError(InvalidValueError):
    """Raised when a phone number is not 5 to 20 characters of digits with an optional leading +."""

    rule = "member.phone"


class MemberErasedError(RuleViolationError):
    """Raised when a command would act on, or seal data for, a member who was erased."""

    rule = "member.erased"


class PersonalDataReasonError(InvalidValueError):
    """Raised when clear personal data is asked for without a stated reason."""

    rule = "personal_data.reason"


class ErasureUnfinishedError(RuleViolationError):
    """Raised when an erasure's receipt is asked for while its data key still exists
    (the erasure was recorded, its shredding did not happen): erase again to finish."""

    rule = "erasure.unfinished"


class NamesTheSubjectError(InvalidValueError):
    """Raised when the text kept in clear with an erasure or a read (its legal basis, its
    reason) holds the person's own name or phone: it could never be erased."""

    rule = "personal_data.names_subject"


class AlreadyReportedInError(RuleViolationError):
    """Raised when a member or organisation reports in to the same community a second time."""

    def __init__(self, who: str, community: str) -> None:
        super().__init__(
            f"this {who} has already reported in to {community}", rule=f"{who}.report_in_once"
        )


class GridOutsideCommunityError(RuleViolationError):
    """Raised when a member reports in to a grid that is not inside the community named."""

    rule = "member.grid_in_community"


class OrganisationNotReportedInError(RuleViolationError):
    """Raised when a member reports in through an organisation not reported in to that community."""

    rule = "member.organisation_reported_in"


class RoleJurisdictionKindError(WrongJurisdictionKindError):
    """Raised when a role is claimed in a jurisdiction of a kind that role does not sit in."""

    rule = "role.jurisdiction_kind"


class NotReportedInError(RuleViolationError):
    """Raised when a member claims a role in a community they neither reported in to nor live in."""

    rule = "role.reported_in"


class RoleAlreadyHeldError(RuleViolationError):
    """Raised when a member claims a role (same jurisdiction and title) they already hold."""

    rule = "role.held_once"


class RoleNotHeldError(RuleViolationError):
    """Raised when a member releases a role they do not hold in that jurisdiction."""

    rule = "role.held"


# --- activities ---


class ActivityValueError(InvalidValueError):
    """Raised when an activity command carries a blank text or a time without a time zone."""

    rule = "activity.value"


class ActivityTimesError(InvalidValueError):
    """Raised when an activity does not end after it starts or lasts longer than allowed."""

    rule = "activity.times"


class AttendanceWindowError(RuleViolationError):
    """Raised when a check-in or check-out time falls outside the activity's window plus grace."""

    rule = "activity.attendance_window"


class AttendanceInFutureError(RuleViolationError):
    """Raised when a check-in or check-out is given a time later than the server's clock allows."""

    rule = "activity.attendance_not_in_future"


class DoubleCheckInError(RuleViolationError):
    """Raised when a member checks in to an activity a second time."""

    rule = "activity.double_check_in"


class CheckOutWithoutCheckInError(RuleViolationError):
    """Raised when a member checks out of an activity they never checked in to."""

    rule = "activity.check_out_without_check_in"


class DoubleCheckOutError(RuleViolationError):
    """Raised when a member checks out of an activity a second time."""

    rule = "activity.double_check_out"


class CheckOutBeforeCheckInError(RuleViolationError):
    """Raised when a check-out time is earlier than the member's check-in time."""

    rule = "activity.check_out_after_check_in"


class ActivityNotStartedError(RuleViolationError):
    """Raised when an activity is closed before it has started (cancel it instead)."""

    rule = "activity.close_after_start"


class ActivityHasAttendanceError(RuleViolationError):
    """Raised when an activity that someone has checked in to is cancelled (close it instead)."""

    rule = "activity.cancel_without_attendance"


# --- pledges ---


class PledgeSessionNotFoundError(NotFoundError):
    """Raised when a pledge has no service session with the given number."""

    def __init__(self, pledge_id: object, session_no: object) -> None:
        super().__init__("Session", f"{session_no} of pledge {pledge_id}")
        self.rule = "pledge.session_exists"


class PledgeSessionDateError(RuleViolationError):
    """Raised when a session's date is in the future, after the due date or before the pledge."""

    rule = "pledge.session_date"


class PledgeDailyHoursExceededError(RuleViolationError):
    """Raised when a session would take one date's logged hours past 24."""

    rule = "pledge.hours_per_day"


class PledgeSessionAlreadyVerifiedError(RuleViolationError):
    """Raised when a service session is verified a second time."""

    rule = "pledge.session_verified_once"


class PledgeSelfVerificationError(RuleViolationError):
    """Raised when the pledging member tries to verify their own session."""

    rule = "pledge.no_self_verification"


class PledgeNotYetDueError(RuleViolationError):
    """Raised when a pledge would lapse before its due date has passed."""

    rule = "pledge.lapse_after_due"


class PledgeAlreadyReviewedError(RuleViolationError):
    """Raised when a pledge is reviewed a second time."""

    rule = "pledge.reviewed_once"


class PledgeSelfReviewError(RuleViolationError):
    """Raised when the pledging member tries to review their own pledge."""

    rule = "pledge.no_self_review"


# --- tickets ---


class TicketValueError(InvalidValueError):
    """Raised when a ticket command carries an unknown choice, a blank text or a bad location."""

    rule = "ticket.value"


class DuplicateOfError(InvalidValueError):
    """Raised when a duplicate lacks duplicate_of, an invalid report has one, or it names itself."""

    rule = "ticket.duplicate_of"


class DispatchLevelError(RuleViolationError):
    """Raised when an escalated ticket is dispatched below the level it was escalated to."""

    rule = "ticket.dispatch_at_escalated_level"


class EscalationLevelError(RuleViolationError):
    """Raised when an escalation does not go strictly above the ticket's current level."""

    rule = "ticket.escalate_upwards"


class RatedByReporterError(RuleViolationError):
    """Raised when someone other than the reporting member rates a ticket they reported."""

    rule = "ticket.rated_by_reporter"


class AlreadyRatedError(RuleViolationError):
    """Raised when a resolution that has already been rated is rated again."""

    rule = "ticket.rated_once"


class ResponseNotOverdueError(RuleViolationError):
    """Raised when a missed response is recorded for a ticket whose response is not overdue."""

    rule = "ticket.response_overdue"


class ResolutionNotOverdueError(RuleViolationError):
    """Raised when a missed resolution is recorded for a ticket whose resolution is not overdue."""

    rule = "ticket.resolution_overdue"


# --- rulebooks and points ---


class RuleDefinitionError(InvalidValueError):
    """Raised when a rule's terms are out of range (points, kind, trigger, caps, approval)."""

    rule = "rulebook.rule_definition"


class RuleNotInForceError(RuleViolationError):
    """Raised when a rule code is unknown or retired in the community's rulebook."""

    rule = "rulebook.rule_in_force"

    def __init__(self, community: str, rule_code: str) -> None:
        super().__init__(f"rule {rule_code!r} is not in force in the rulebook of {community}")
        self.community = community
        self.rule_code = rule_code


class RuleTriggerError(RuleViolationError):
    """Raised when a rule is applied other than by its trigger (an automatic rule by hand)."""

    rule = "rulebook.trigger"


class RuleKindError(RuleViolationError):
    """Raised when an award names a deduction rule, or a deduction an award rule."""

    rule = "points.rule_kind"


class PointsValueError(InvalidValueError):
    """Raised when a points command carries a value out of range (quantity, points, blanks)."""

    rule = "points.value"


class SelfAwardError(RuleViolationError):
    """Raised when an actor awards points to themselves."""

    rule = "points.self_award"


class ApproverIsAwarderError(RuleViolationError):
    """Raised when whoever awarded points tries to approve the same award (four eyes)."""

    rule = "points.approver_is_awarder"


class SelfApprovalError(RuleViolationError):
    """Raised when a member tries to approve an award made to themselves."""

    rule = "points.self_approval"


class SelfReversalError(RuleViolationError):
    """Raised when a member tries to reverse an entry of their own account."""

    rule = "points.self_reversal"


class CapExceededError(RuleViolationError):
    """Raised when an entry would pass its rule's cap for the day, month or year."""

    rule = "points.cap"


class SourceAlreadyUsedError(RuleViolationError):
    """Raised when a source has already earned (or been charged) the same rule for the member."""

    rule = "points.source_once"


class InsufficientBalanceError(RuleViolationError):
    """Raised when a redemption asks for more points than the balance holds."""

    rule = "points.redeem_beyond_balance"


class ReversalBeyondBalanceError(RuleViolationError):
    """Raised when reversing an award would take the balance below zero."""

    rule = "points.reverse_beyond_balance"


class ExpiryPeriodOpenError(RuleViolationError):
    """Raised when an expiry names a date after today: a period expires only once it ended."""

    rule = "points.expiry_period_open"


class PointsEntryTransitionError(InvalidTransitionError):
    """Raised when an entry's status or kind does not allow approving, rejecting or reversing."""

    def __init__(self, action: str, status: str) -> None:
        super().__init__("points entry", action, status)
        self.rule = "points.entry_transition"


# --- assessments ---


class AssessmentPolicyError(InvalidValueError):
    """Raised when an assessment policy's terms are out of range (weights, k, stars)."""

    rule = "assessment.policy_terms"
