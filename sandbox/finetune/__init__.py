"""Fine-tuning: data preflight, deterministic splits, a local LoRA trainer behind an
OpenAI-shaped job API, a provider-agnostic job client, and adapter export."""
