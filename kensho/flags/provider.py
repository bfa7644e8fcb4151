"""`KenshoProvider`: the OpenFeature provider that answers from Kenshō's flag settings.

It resolves in memory (no I/O, so evaluating on the event loop costs a hash): the settings
come from a callable the flag service owns (configuration, overridden by what Redis holds),
and the evaluation context's `targeting_key` (an account or client id) picks the bucket.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import FlagNotFoundError, TypeMismatchError
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from kensho.flags.model import FlagDefinition, Setting, decide

__all__ = ["KenshoProvider"]

T = TypeVar("T", bool, str)


class KenshoProvider(AbstractProvider):
    """Resolves the flags in `definitions` with `setting_of(key)` for each."""

    def __init__(
        self,
        definitions: Mapping[str, FlagDefinition],
        setting_of: Callable[[FlagDefinition], Setting],
    ) -> None:
        super().__init__()
        self._definitions = definitions
        self._setting_of = setting_of

    def get_metadata(self) -> Metadata:
        return Metadata(name="kensho")

    def _resolve(
        self, key: str, kind: str, context: EvaluationContext | None
    ) -> FlagResolutionDetails[Any]:
        definition = self._definitions.get(key)
        if definition is None:
            raise FlagNotFoundError(f"no flag {key[:64]!r}")
        if definition.kind != kind:
            raise TypeMismatchError(f"flag {key} is {definition.kind}, not {kind}")
        subject = context.targeting_key if context is not None else None
        decision = decide(definition, self._setting_of(definition), subject or None)
        return FlagResolutionDetails(
            value=decision.value, variant=decision.variant, reason=Reason(decision.reason)
        )

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        return self._resolve(flag_key, "boolean", evaluation_context)

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._resolve(flag_key, "string", evaluation_context)

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        raise TypeMismatchError("Kenshō flags are boolean or string")

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        raise TypeMismatchError("Kenshō flags are boolean or string")

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        raise TypeMismatchError("Kenshō flags are boolean or string")
