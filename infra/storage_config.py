"""The `storage` section: the stack's Swift containers for cubes."""

from __future__ import annotations

from pydantic import Field, field_validator

from components.secret_stand_ins import StrictModel


class StorageConfig(StrictModel):
    """Swift containers for cubes; names are prefixed with project and stack."""

    public_container: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,40}$")
    private_containers: list[str] = Field(min_length=1)

    @field_validator("private_containers")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not name or not all(c.isalnum() or c == "-" for c in name) or name != name.lower():
                raise ValueError(f"{name!r} is not a valid container name (lowercase, digits, '-')")
        return names
