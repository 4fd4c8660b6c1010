"""The one family of user-facing errors; the CLI catches BenchError and prints it."""


class BenchError(Exception):
    """An error caused by input or environment that the user can fix."""


class SpecError(BenchError):
    """A run spec (or a --set override) is invalid."""


class RegistryError(BenchError):
    """An unknown or duplicate name in a registry."""


class DatasetError(BenchError):
    """A dataset cannot be found or read."""


class TaskError(BenchError):
    """A task network cannot be built or run."""


class StoreError(BenchError):
    """A run store is missing, corrupt or of another schema version."""


class AnalysisError(BenchError):
    """Curves cannot be compared (no overlap, too few points, bad values)."""


class CodecError(BenchError):
    """A codec failed or is unusable; carries the command and stderr when it ran one."""

    def __init__(self, message: str, command: list[str] | None = None, stderr: str = ""):
        self.command = list(command) if command else None
        self.stderr = stderr
        detail = message
        if self.command:
            detail += "\n  command: " + " ".join(self.command)
        if stderr:
            tail = "\n".join(stderr.strip().splitlines()[-15:])
            detail += "\n  stderr (last lines):\n    " + tail.replace("\n", "\n    ")
        super().__init__(detail)


class MetricError(BenchError):
    """A metric cannot be computed from the given predictions or ground truth."""


class TrainingDiverged(BenchError):
    """Training stopped: the loss or its gradient stayed non-finite step after step."""
