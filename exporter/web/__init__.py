"""The HTTP front door: the server, its security layer (TLS, basic auth, headers) and its pages."""
