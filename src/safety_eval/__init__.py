"""ai-safety-eval: measure how safe LLMs are as code writers and as autonomous agents."""

from safety_eval.results.records import Finding, Generation, Prompt, Sample

__version__ = "0.1.0"

__all__ = ["Finding", "Generation", "Prompt", "Sample", "__version__"]
