"""Name rules the proxy checks before a request goes further (Milvus proxy validate_util).

Collection names and aliases follow ``milvus.schema``'s rule (shared with schema
validation); databases and partitions have their own, with Milvus' messages and codes.
"""

from __future__ import annotations

from milvus import errors
from milvus.schema import DEFAULT_LIMITS, SchemaLimits
from milvus.schema.validate import validate_collection_name


def _is_alpha(c: str) -> bool:
    return "a" <= c <= "z" or "A" <= c <= "Z"


def _is_digit(c: str) -> bool:
    return "0" <= c <= "9"


class NameRules:
    """The checks, bound to the configured maximum name length."""

    def __init__(self, max_name_length: int = DEFAULT_LIMITS.max_name_length):
        self.max_length = max_name_length
        self._limits = SchemaLimits(max_name_length=max_name_length)

    def collection(self, name: str) -> None:
        validate_collection_name(name, self._limits)

    def alias(self, name: str) -> None:
        validate_collection_name(name, self._limits, entity="alias")

    def database(self, name: str) -> None:
        def invalid(reason: str) -> errors.MilvusError:
            return errors.DatabaseInvalidName(f"{reason}: invalid database name[database={name}]")

        if not name:
            raise invalid("database name couldn't be empty")
        if len(name) > self.max_length:
            raise invalid(f"the length of a database name must be less than {self.max_length} characters")
        if not (_is_alpha(name[0]) or name[0] == "_"):
            raise invalid("the first character of a database name must be an underscore or letter")
        if not all(c == "_" or _is_alpha(c) or _is_digit(c) for c in name[1:]):
            raise invalid("database name can only contain numbers, letters and underscores")

    def partition(self, name: str) -> None:
        name = name.strip()
        prefix = f"Invalid partition name: {name}. "

        def invalid(reason: str) -> errors.MilvusError:
            return errors.ParameterInvalid(prefix + reason)

        if not name:
            raise invalid("Partition name should not be empty.")
        if len(name) > self.max_length:
            raise invalid(f"The length of a partition name must be less than {self.max_length} characters.")
        if not (name[0] == "_" or _is_alpha(name[0]) or _is_digit(name[0])):
            raise invalid("The first character of a partition name must be an underscore or letter.")
        if not all(c in "_-" or _is_alpha(c) or _is_digit(c) for c in name[1:]):
            raise invalid("Partition name can only contain numbers, letters and underscores.")

    def index(self, name: str) -> None:
        def invalid(reason: str) -> errors.MilvusError:
            return errors.ParameterInvalid(f"Invalid index name: {name}. {reason}")

        if not name:
            raise invalid("Index name should not be empty.")
        if len(name) > self.max_length:
            raise invalid(f"The length of a index name must be less than {self.max_length} characters.")
        if not (name[0] == "_" or _is_alpha(name[0])):
            raise invalid("The first character of a index name must be an underscore or letter.")
        if not all(c == "_" or _is_alpha(c) or _is_digit(c) for c in name[1:]):
            raise invalid("Index name can only contain numbers, letters, and underscores.")

    def resource_group(self, name: str) -> None:
        """Milvus' ``ValidateResourceGroupName``."""
        if not name:
            raise errors.ParameterInvalid("resource group name couldn't be empty")
        prefix = f"Invalid resource group name {name}."
        if len(name) > self.max_length:
            raise errors.ParameterInvalid(f"{prefix} the length of a resource group name must be less than "
                                          f"{self.max_length} characters")
        if not (name[0] == "_" or _is_alpha(name[0])):
            raise errors.ParameterInvalid(f"{prefix} the first character of a resource group name must be an "
                                          f"underscore or letter")
        if not all(c == "_" or _is_alpha(c) or _is_digit(c) for c in name[1:]):
            raise errors.ParameterInvalid(f"{prefix} resource group name can only contain numbers, letters "
                                          f"and underscores")
