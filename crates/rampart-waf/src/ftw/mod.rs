//! In-process runner for the CRS regression suite (go-ftw YAML tests).
