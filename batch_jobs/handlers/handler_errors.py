"""The handlers' failure types and the exit code each one maps to.

Core functions raise these with a one-line message meant for a user; the CLI prints the message and
exits with the class's code, so a workflow script can tell "bad upload" from "misconfigured model".
"""
from __future__ import annotations


class HandlerError(Exception):
    """Base class: a failure the user can act on, reported without a traceback."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(HandlerError):
    """A parameter is out of range or inconsistent (the same code argparse uses for a bad command line)."""

    exit_code = 2


class InputError(HandlerError):
    """The input file is missing, unreadable, corrupt or not the kind of media the command needs."""

    exit_code = 3


class ModelFileError(HandlerError):
    """A model file (cfg, weights, names) is missing, inconsistent or could not be downloaded."""

    exit_code = 4


class ToolError(HandlerError):
    """An external tool (ffmpeg, ffprobe) is missing or failed in a way the input does not explain."""

    exit_code = 5


class ToolTimeout(HandlerError):
    """An external tool ran past its time limit and was killed."""

    exit_code = 6


class MissingStreamError(HandlerError):
    """The input is valid media but lacks the stream the command needs (e.g. a video without audio)."""

    exit_code = 10


EXIT_CODES = {
    0: "success",
    1: "internal error (a bug: please report it)",
    UsageError.exit_code: "usage error (bad command line or parameter value)",
    InputError.exit_code: "bad input file",
    ModelFileError.exit_code: "model file problem",
    ToolError.exit_code: "external tool missing or failed",
    ToolTimeout.exit_code: "external tool timed out",
    MissingStreamError.exit_code: "input lacks the needed audio or video stream",
}
