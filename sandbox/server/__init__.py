"""Local OpenAI-compatible server (FastAPI): /v1/models, /v1/chat/completions, plus files and fine-tuning.

Heavy imports live in the submodules; importing this package is cheap.
"""
