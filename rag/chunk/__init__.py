"""Chunking: a report's text cleaned and cut into articles, sections and paragraphs, each mapped back to the original."""
