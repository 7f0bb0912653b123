"""sandbox: find out on your own data whether prompting, RAG or fine-tuning is the right approach."""

__version__ = "0.1.0"

PIPELINES = ("few-shot", "rag", "fine-tuned")

import os as _os

# Offline always: nothing at run time may reach the network (models load from local paths).
for _key, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    _os.environ.setdefault(_key, _value)
