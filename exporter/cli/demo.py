"""The embedded simulator's own key pair: it guards nothing but a demo."""

DEMO_KEY_ID = "demo-key-id"
DEMO_KEY_SECRET = "demo-key-secret"
