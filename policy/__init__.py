"""The CrossGuard policy pack folder; `adapter` is importable without pulumi-policy."""
