"""What every request goes through: security headers, the body limit, sessions, CSRF, sign-in throttling."""
