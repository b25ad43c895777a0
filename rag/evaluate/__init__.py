"""Evaluation: a question file through retrieval alone or the whole pipeline, scored and reported."""
