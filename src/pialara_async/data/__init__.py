"""Data in: the demo-data generator, the sample-data importer, the course's migrations."""
