"""Errors of the intake domain, worded for a housing officer."""


class IntakeError(Exception):
    """Base class: something the user can fix, with a message that says how."""


class PolicyError(IntakeError):
    """A landlord policy file is missing or has a bad value."""


class InvalidDate(IntakeError):
    """A date could not be read."""


class CaseActionError(IntakeError):
    """A case action is not allowed in the case's current state."""


class ConflictError(IntakeError):
    """Someone else changed the record first (for example, claimed the case)."""
