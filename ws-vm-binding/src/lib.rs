//! ws-vm-binding: filled in by its own issue.
