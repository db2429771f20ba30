//! ws-transport-esp: filled in by its own issue.
