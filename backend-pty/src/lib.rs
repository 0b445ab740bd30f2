//! The raw PTY backend of sessiongate (built by its own issue).
