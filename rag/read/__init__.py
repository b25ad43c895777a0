"""Reading: files as people have them (text in any encoding, datasets, Word, PDF, web pages) → report texts."""
