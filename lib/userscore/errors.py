"""Named errors a job reports with a clear message and exit code 2, before it writes anything."""

from __future__ import annotations


class UserscoreError(Exception):
    """Base of the errors a job turns into a one-line message and exit code 2."""

    exit_code = 2


class ConfigError(UserscoreError):
    """A config file has an unknown key, a wrong type, a missing key or a bad reference."""

    def __init__(self, file: str, key_path: str, found: str, expected: str):
        self.file, self.key_path, self.found, self.expected = file, key_path, found, expected
        super().__init__(f"config error in {file} at {key_path}: found {found}; expected {expected}")


class InputError(UserscoreError):
    """A job's input is missing or unusable (no raw files, no features partition, no model)."""


class ReconciliationError(UserscoreError):
    """Counts do not add up: records read != accepted + quarantined + duplicates."""
