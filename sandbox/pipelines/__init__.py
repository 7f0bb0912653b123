"""The three pipelines, by name: one registry, no if-ladders."""

from __future__ import annotations

from sandbox.errors import ConfigError
from sandbox.pipelines.base import Pipeline, PreparedChat, Resources
from sandbox.pipelines.few_shot import FewShotPipeline
from sandbox.pipelines.fine_tuned import FineTunedPipeline
from sandbox.pipelines.rag import RagPipeline

REGISTRY: dict[str, type[Pipeline]] = {p.name: p for p in (FewShotPipeline, RagPipeline, FineTunedPipeline)}


def pipeline_class(name: str) -> type[Pipeline]:
    if name not in REGISTRY:
        raise ConfigError(f"Unknown pipeline {name!r}.", f"Pipelines are: {', '.join(REGISTRY)}.")
    return REGISTRY[name]


__all__ = ["REGISTRY", "Pipeline", "PreparedChat", "Resources", "pipeline_class"]
