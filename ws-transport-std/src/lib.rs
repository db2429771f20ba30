//! ws-transport-std: filled in by its own issue.
