"""Answering: the question's plan, the gate, context selection, the LLM, verification and citations."""
