"""The base of every params section: strict types, no unknown keys, no NaN."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    # NaN and infinity pass a range check (nan >= 0 is False, but inf > 0 is True) and break
    # training far downstream: refused here, with the key named
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)
