"""The built-in model as a shared asset: its id, its weights (GGUF converted once to a cached HF folder)
and its tokenizer. Both the server (serving) and fine-tuning (training, export) build on this package;
it imports neither of them."""

BASE_MODEL_ID = "smollm2-135m-instruct"
