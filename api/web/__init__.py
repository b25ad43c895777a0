"""The web page: a chat over the reports with a report view for every citation (served at `/`)."""
