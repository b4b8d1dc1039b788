"""HTTP API tests: the contract of ``docs/API.md`` driven through falcon's test client."""
