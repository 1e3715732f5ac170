class LabError(RuntimeError):
    """The lab could not start or misbehaved; the message says what to fix."""
