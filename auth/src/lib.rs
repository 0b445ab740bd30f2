//! The OAuth 2.1 authorization server of sessiongate (built by its own issue).
