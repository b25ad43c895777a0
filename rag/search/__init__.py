"""Search: the chunk store, the dense and keyword indexes, the question's terms and places, and retrieval."""
