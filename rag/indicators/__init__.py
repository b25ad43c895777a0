"""Headline indicators (targets and results) of each report: the catalog of indicators
(`catalog`), their extraction with citations at ingestion (`extract`), target paired with result
across a place's reports (`compare`), the table the CLI and the API show (`table`) and scoring
against a gold table (`score`)."""
